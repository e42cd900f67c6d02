import io

import pytest
from PIL import Image

from compare.images import ImageRejected, check_image

from tests.helpers import image_bytes


def test_it_records_what_pillow_read_and_writes_a_webp_thumbnail():
    checked = check_image(image_bytes(1200, 600, "JPEG"), thumbnail_size=256)
    assert (checked.width, checked.height, checked.format) == (1200, 600, "jpeg")
    assert checked.bytes == len(checked.data) and len(checked.sha256) == 64
    thumb = Image.open(io.BytesIO(checked.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == (256, 128)


def test_it_keeps_transparency_in_the_thumbnail():
    out = io.BytesIO()
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(out, "PNG")
    thumb = Image.open(io.BytesIO(check_image(out.getvalue()).thumbnail))
    assert thumb.mode == "RGBA"


def test_it_refuses_a_non_image():
    with pytest.raises(ImageRejected, match="not an image"):
        check_image(b"<html>rate limited</html>")


def test_it_refuses_an_empty_file():
    with pytest.raises(ImageRejected, match="empty"):
        check_image(b"")


def test_it_refuses_a_truncated_image():
    data = image_bytes(400, 400, "PNG", colour=(1, 2, 3))
    noisy = io.BytesIO()
    Image.effect_noise((400, 400), 50).save(noisy, "PNG")
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        check_image(noisy.getvalue()[: len(noisy.getvalue()) // 2])
    assert check_image(data).width == 400


def test_it_refuses_a_decompression_bomb_without_decoding_it():
    # A real PNG whose header says 20000x20000: tiny on disk, 400 million pixels when decoded.
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ImageRejected, match="decompression bomb"):
        check_image(bomb.getvalue(), max_pixels=40_000_000)


def test_it_refuses_a_file_over_the_byte_cap():
    with pytest.raises(ImageRejected, match="byte cap"):
        check_image(image_bytes(), max_bytes=10)


def test_it_refuses_formats_we_do_not_accept():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "BMP")
    with pytest.raises(ImageRejected, match="BMP"):
        check_image(out.getvalue())
