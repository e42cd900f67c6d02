"""Every image that arrives is opened with Pillow before we keep it.

Non-images, truncated files and decompression bombs are refused; what we record (width,
height, format, bytes) is what Pillow read, never what the provider claimed. The original is
kept byte for byte and a WebP thumbnail is written beside it.
"""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}


class ImageRejected(Exception):
    """The bytes are not an image we accept; the message says why, for the result card."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    width: int
    height: int
    format: str  # png, jpeg, webp, gif
    sha256: str
    thumbnail: bytes

    @property
    def bytes(self):
        return len(self.data)


def check_image(data: bytes, *, max_pixels=None, max_bytes=None, thumbnail_size=None) -> CheckedImage:
    max_pixels = max_pixels or settings.MAX_IMAGE_PIXELS
    max_bytes = max_bytes or settings.MAX_IMAGE_BYTES
    thumbnail_size = thumbnail_size or settings.THUMBNAIL_SIZE
    if not data:
        raise ImageRejected("The provider returned an empty file instead of an image.")
    if len(data) > max_bytes:
        raise ImageRejected(f"The image is {len(data):,} bytes, over the {max_bytes:,} byte cap.")
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        raise ImageRejected("The provider returned data that is not an image.") from None
    except Image.DecompressionBombError:
        raise ImageRejected("The image is a decompression bomb (far too many pixels).") from None
    with image:
        fmt = ACCEPTED_FORMATS.get(image.format or "")
        if fmt is None:
            raise ImageRejected(f"The provider returned a {image.format} file, not PNG, JPEG or WebP.")
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                f"The image claims {width}x{height} pixels, over the {max_pixels:,} pixel limit "
                "(a decompression bomb or a runaway size); it was not decoded.")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"The image is damaged or truncated ({exc}).") from None
        thumb = image.copy()
    thumb.thumbnail((thumbnail_size, thumbnail_size))
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80, method=4)
    return CheckedImage(
        data=data, width=width, height=height, format=fmt,
        sha256=hashlib.sha256(data).hexdigest(), thumbnail=out.getvalue(),
    )
