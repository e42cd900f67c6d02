"""compare/imagediff.py: perceptual hashes and the pixel difference, with Pillow only."""

import io
import json
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

from providers.base import ImageRequest
from providers.sandbox import draw

from compare import imagediff
from compare.images import ImageRejected


def encode(image, fmt="PNG", **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def picture(seed=1, size=(256, 256)):
    """A drawing with shapes and gradients, different for each seed."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    pen = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(20, size[0] // 2), rng.randrange(20, size[1] // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (pen.ellipse if rng.random() < .5 else pen.rectangle)((x, y, x + w, y + h), fill=colour)
    return image


def sandbox(route, prompt="a red fox in snow", size=(1024, 1024), fmt="png"):
    request = ImageRequest(prompt=prompt, width=size[0], height=size[1], quality="low", output_format=fmt, n=1)
    return draw(request, route)


# --- Hashes --------------------------------------------------------------------------------


def test_identical_images_are_at_distance_zero_and_read_as_identical():
    data = encode(picture())
    difference, png = imagediff.compare_bytes(data, data)
    assert (difference.phash, difference.dhash, difference.ahash) == (0, 0, 0)
    assert difference.mean_abs == 0 and difference.share_over == 0
    assert difference.verdict == "identical"
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_a_slightly_changed_image_is_near():
    original = picture()
    touched = original.copy()
    ImageDraw.Draw(touched).rectangle((10, 10, 30, 30), fill=(255, 0, 0))  # a small retouch
    jpeg = encode(original, "JPEG", quality=60)  # and a lossy re-encode
    for changed in (encode(touched), jpeg, encode(original.filter(ImageFilter.GaussianBlur(1)))):
        difference, _ = imagediff.compare_bytes(encode(original), changed)
        assert 0 < difference.mean_abs < 8
        assert difference.phash <= 6, difference
        assert difference.verdict == "near-identical"


def test_unrelated_images_are_far_apart():
    distances = []
    for seed in range(2, 8):
        difference, _ = imagediff.compare_bytes(encode(picture(1)), encode(picture(seed)))
        assert difference.verdict in ("similar", "different")
        distances.append(difference.phash)
    assert sum(distances) / len(distances) > 16
    difference, _ = imagediff.compare_bytes(sandbox("sandbox:fast"), sandbox("sandbox:steady"))
    assert difference.phash > 16 and difference.verdict == "different" and difference.share_over > .3


def test_the_same_picture_at_another_size_is_near_and_compared_at_the_smaller_size():
    big = picture(3, (512, 512))
    difference, png = imagediff.compare_bytes(encode(big), encode(big.resize((200, 200))))
    assert difference.phash <= 4 and difference.dhash <= 6
    assert (difference.width, difference.height) == (200, 200) and difference.same_aspect
    assert Image.open(io.BytesIO(png)).size == (200, 200)


def test_different_shapes_are_stretched_to_one_size_and_said_so():
    square = encode(picture(4, (300, 300)))
    portrait = encode(picture(5, (200, 300)))
    difference, png = imagediff.compare_bytes(square, portrait)
    assert (difference.width, difference.height) == (200, 300) and not difference.same_aspect
    assert Image.open(io.BytesIO(png)).size == (200, 300)
    assert not imagediff.same_aspect((1024, 1536), (1024, 1024))
    assert imagediff.same_aspect((1024, 1536), (683, 1024))  # rounding is not a different shape


def test_the_common_size_is_bounded():
    assert imagediff.common_size((4096, 2048), (4000, 2000)) == (1024, 512)
    assert imagediff.common_size((300, 200), (600, 400)) == (300, 200)
    difference, png = imagediff.compare_bytes(encode(picture(6, (2400, 1200))), encode(picture(6, (2400, 1200))),
                                              max_side=300)
    assert (difference.width, difference.height) == (300, 150)
    assert Image.open(io.BytesIO(png)).size == (300, 150)


def test_transparency_and_palettes_are_flattened_onto_white():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # fully transparent black
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    difference, _ = imagediff.compare_bytes(encode(rgba), encode(white))
    assert difference.mean_abs == 0 and difference.verdict == "identical"

    colourful = picture(7, (128, 128))
    palette = colourful.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    difference, _ = imagediff.compare_bytes(encode(colourful), encode(palette))
    assert difference.phash <= 4 and difference.mean_abs < 6

    with_transparency = palette.copy()
    with_transparency.info["transparency"] = 0
    gif = encode(with_transparency, "GIF", transparency=0)
    assert imagediff.open_image(gif).mode == "RGB"
    grey_alpha = Image.new("LA", (10, 10), (0, 0))
    assert imagediff.open_image(encode(grey_alpha)).getpixel((0, 0)) == (255, 255, 255)


def test_a_decompression_bomb_is_refused_before_decoding(monkeypatch):
    # Over Pillow's own guard (twice its limit): refused when the header is read.
    huge = encode(Image.new("1", (20000, 20000)))
    with pytest.raises(ImageRejected, match="decompression bomb"):
        imagediff.open_image(huge)
    # Under Pillow's guard but over ours (MAX_IMAGE_PIXELS): refused without decoding it.
    wide, small = encode(Image.new("1", (9000, 5000))), encode(picture())
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(ImageRejected, match="pixel limit"):
        imagediff.compare_bytes(wide, small)
    with pytest.raises(ImageRejected, match="pixel limit"):
        imagediff.open_image(small, max_pixels=1000)
    assert decoded == []


def test_non_images_truncated_files_and_oversize_files_are_refused():
    with pytest.raises(ImageRejected, match="not an image"):
        imagediff.open_image(b"<html>nope</html>")
    with pytest.raises(ImageRejected, match="empty"):
        imagediff.open_image(b"")
    data = encode(picture(8, (400, 400)))
    with pytest.raises(ImageRejected, match="byte cap"):
        imagediff.open_image(data, max_bytes=100)
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        imagediff.open_image(data[: len(data) // 2])


def test_the_heat_map_is_dark_where_the_images_agree_and_hot_where_they_differ():
    base = Image.new("RGB", (100, 100), (90, 90, 90))
    changed = base.copy()
    ImageDraw.Draw(changed).rectangle((50, 0, 99, 99), fill=(250, 250, 250))
    difference, png = imagediff.compare_bytes(encode(base), encode(changed))
    heat = Image.open(io.BytesIO(png)).convert("RGB")
    same, hot = heat.getpixel((10, 50)), heat.getpixel((90, 50))
    assert sum(hot) > 3 * sum(same) and max(same) < 120
    assert difference.share_over == pytest.approx(0.5, abs=0.02)
    assert difference.mean_abs == pytest.approx(80, abs=2)  # (250 - 90) on half the pixels


def test_dct_matches_the_textbook_formula_and_hashes_are_64_bits():
    import math

    pixels = [((x * 7 + y * 13) % 256) for y in range(32) for x in range(32)]
    low = imagediff.dct_low(pixels)
    for u, v in ((0, 0), (1, 0), (0, 3), (5, 7)):
        expected = sum(pixels[y * 32 + x] * math.cos(math.pi * (2 * x + 1) * u / 64) * math.cos(math.pi * (2 * y + 1) * v / 64)
                       for x in range(32) for y in range(32))
        assert low[v][u] == pytest.approx(expected)
    image = picture(9)
    for value in imagediff.hashes(image).__dict__.values():
        assert 0 <= value < 2 ** 64
    assert imagediff.hamming(0b1011, 0b0110) == 3


def test_a_difference_round_trips_through_json():
    difference, _ = imagediff.compare_bytes(encode(picture(1)), encode(picture(2)))
    assert imagediff.Difference(**json.loads(json.dumps(difference.as_dict()))) == difference
