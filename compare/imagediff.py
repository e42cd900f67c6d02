"""How alike two images are, with Pillow only: perceptual hashes and a pixel-difference heat map.

- Perceptual hashes of 64 bits: pHash (DCT of a 32x32 grey image, the 8x8 lowest frequencies
  against their median), dHash (neighbouring pixels of a 9x8 grey image) and aHash (an 8x8 grey
  image against its mean). Their Hamming distance is 0 for the same picture, stays small for a
  re-encoded, resized or slightly retouched one, and is around 32 for unrelated pictures.
- The pixel difference: both images resized to one common size (long side at most
  MAX_DIFF_SIDE), |a - b| per channel and its luminance per pixel, the mean of that and the
  share of pixels over a threshold, and a heat map PNG of it over the two images dimmed.

Images are opened within the limits every stored image was checked against (compare/images.py:
MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, Pillow's decompression-bomb guard): a file over them is
refused with ImageRejected before its pixels are decoded.
"""

import io
import math
from dataclasses import asdict, dataclass

from django.conf import settings
from PIL import Image, ImageChops, ImageOps, ImageStat, UnidentifiedImageError

from compare.images import ACCEPTED_FORMATS, ImageRejected

MAX_DIFF_SIDE = 1024
THRESHOLD = 24  # of 255: a per-pixel luminance difference at or under this counts as "the same"
VERSION = 2  # part of the cache key: bump when the maths or the colour map change


# --- Opening -------------------------------------------------------------------------------


def open_image(data, *, max_pixels=None, max_bytes=None, fit=None):
    """The image in `data` as RGB (transparency flattened onto white, palettes expanded), checked
    against the same limits as on arrival; with `fit` (pixels), decoded no larger than needed to
    make a `fit`x`fit` version (JPEG draft mode) and shrunk to fit in it."""
    max_pixels = max_pixels or settings.MAX_IMAGE_PIXELS
    max_bytes = max_bytes or settings.MAX_IMAGE_BYTES
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(f"The image is {len(data):,} bytes, over the {max_bytes:,} byte cap.")
    try:
        image = Image.open(io.BytesIO(data))  # the header only
    except UnidentifiedImageError:
        raise ImageRejected("The file is not an image.") from None
    except Image.DecompressionBombError:
        raise ImageRejected("The image is a decompression bomb (far too many pixels).") from None
    if ACCEPTED_FORMATS.get(image.format or "") is None:
        raise ImageRejected(f"A {image.format} file is not an image format we accept.")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(f"The image claims {width}x{height} pixels, over the {max_pixels:,} pixel "
                            "limit; it was not decoded.")
    if fit:
        image.draft("RGB", (fit, fit))  # JPEG: decode at a reduced scale; others: no effect
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image is damaged or truncated ({exc}).") from None
    image = flatten(image)
    if fit:
        image.thumbnail((fit, fit), Image.Resampling.LANCZOS)
    return image


def flatten(image):
    """RGB, whatever the mode: alpha (RGBA, LA, a palette's transparent colour) over white."""
    if image.mode == "P" and "transparency" in image.info or image.mode in ("PA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


# --- Perceptual hashes ---------------------------------------------------------------------


def _grey(image, size):
    return list(image.convert("L").resize(size, Image.Resampling.LANCZOS).tobytes())


def _bits(flags):
    value = 0
    for flag in flags:
        value = (value << 1) | bool(flag)
    return value


def ahash(image):
    """64 bits: each pixel of an 8x8 grey image above the mean or not."""
    pixels = _grey(image, (8, 8))
    mean = sum(pixels) / len(pixels)
    return _bits(p > mean for p in pixels)


def dhash(image):
    """64 bits: in a 9x8 grey image, is each pixel brighter than its right-hand neighbour."""
    pixels = _grey(image, (9, 8))
    return _bits(pixels[row * 9 + col] > pixels[row * 9 + col + 1] for row in range(8) for col in range(8))


_N = 32
_K = 8
# DCT-II basis: _COS[u][x] = cos(pi * (2x + 1) * u / 2N), only the K lowest frequencies are needed.
_COS = [[math.cos(math.pi * (2 * x + 1) * u / (2 * _N)) for x in range(_N)] for u in range(_K)]


def dct_low(pixels, n=_N, k=_K):
    """The k x k lowest-frequency coefficients of the 2-D DCT-II of an n x n image (row-major
    values), unnormalised: rows first, then columns (the transform is separable)."""
    assert n == _N and k <= _K
    rows = [[sum(c * v for c, v in zip(_COS[u], pixels[y * n:(y + 1) * n])) for u in range(k)] for y in range(n)]
    return [[sum(_COS[v][y] * rows[y][u] for y in range(n)) for u in range(k)] for v in range(k)]


def phash(image):
    """64 bits: the 8x8 lowest frequencies of the DCT of a 32x32 grey image, each above the
    median of them or not. The DC term (the mean brightness) is left out of the median."""
    coefficients = [c for row in dct_low(_grey(image, (_N, _N))) for c in row]
    median = sorted(coefficients[1:])[len(coefficients[1:]) // 2]
    return _bits(c > median for c in coefficients)


def hamming(a, b):
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class Hashes:
    phash: int
    dhash: int
    ahash: int

    def distance(self, other):
        """Hamming distances in bits (of 64), per hash."""
        return {"phash": hamming(self.phash, other.phash), "dhash": hamming(self.dhash, other.dhash),
                "ahash": hamming(self.ahash, other.ahash)}


def hashes(image):
    return Hashes(phash(image), dhash(image), ahash(image))


# --- Pixel difference ----------------------------------------------------------------------


def same_aspect(size_a, size_b, tolerance=0.01):
    """Whether two (width, height) have the same shape, within `tolerance` (relative)."""
    (wa, ha), (wb, hb) = size_a, size_b
    return abs(wa * hb - wb * ha) <= tolerance * max(wa * hb, wb * ha)


def common_size(size_a, size_b, max_side=MAX_DIFF_SIDE):
    """One size both images are resized to: the smaller width and the smaller height, scaled
    down (keeping that shape) so the long side is at most max_side. Images of different shapes
    are both stretched to it."""
    width, height = min(size_a[0], size_b[0]), min(size_a[1], size_b[1])
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _heat_lut():
    """256 RGB colours from black through blue, magenta, red and orange to pale yellow."""
    stops = [(0, (0, 0, 0)), (40, (30, 40, 200)), (110, (200, 30, 170)), (170, (240, 40, 30)),
             (220, (255, 170, 0)), (255, (255, 255, 190))]
    table = []
    for value in range(256):
        for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
            if x0 <= value <= x1:
                t = (value - x0) / (x1 - x0)
                table.append(tuple(round(a + (b - a) * t) for a, b in zip(c0, c1)))
                break
    return table


_LUT = _heat_lut()
# Small differences made visible: heat = 255 * sqrt(diff / 255) (a difference of 8 shows as 51).
_BOOST = [round(255 * math.sqrt(v / 255)) for v in range(256)]


@dataclass(frozen=True)
class Difference:
    width: int  # the common size the two images were compared at
    height: int
    same_aspect: bool
    mean_abs: float  # mean per-pixel luminance of |a - b|, 0-255
    share_over: float  # share of pixels whose difference is over THRESHOLD, 0-1
    threshold: int
    phash: int  # Hamming distances, bits of 64
    dhash: int
    ahash: int
    reading: str
    verdict: str  # identical | near-identical | similar | different | disagree

    @property
    def mean_percent(self):
        return 100 * self.mean_abs / 255

    @property
    def share_percent(self):
        return 100 * self.share_over

    def as_dict(self):
        return asdict(self)


NEAR_BITS = 6  # a hash distance at or under this: the same picture
SIMILAR_BITS = 16  # at or under this: the same layout; over it: unrelated layouts
NEAR_SHARE = 0.10  # pixels over THRESHOLD: under this share, the pixels say "small changes"
HASH_NAMES = {"phash": "pHash", "dhash": "dHash", "ahash": "aHash"}


def read(distances, mean_abs, share_over):
    """(verdict, a plain-language reading) of every signal: the pixel difference and each hash
    distance (``distances``: {"phash": bits, "dhash": bits, "ahash": bits}). A reading is given
    only when all of them agree with it; otherwise the verdict is "disagree" and the reading
    names the signals that point different ways."""
    bits = [distances[name] for name in HASH_NAMES]
    if mean_abs == 0 and not any(bits):
        return "identical", "Identical: the same pixels at the size compared, and every hash agrees."
    if max(bits) <= NEAR_BITS and share_over < NEAR_SHARE:
        return "near-identical", ("Near-identical: every hash within a few bits and few pixels changed "
                                  "(same model, same seed? or a re-encode).")
    if max(bits) <= SIMILAR_BITS and mean_abs > 0:
        return "similar", "Similar: every hash says the same overall layout and light; the pixels differ in the details."
    far = [bit for bit in bits if bit > SIMILAR_BITS]
    if min(bits) > NEAR_BITS and len(far) >= 2 and share_over >= NEAR_SHARE:
        return "different", ("Different images: no hash finds the same picture, most find unrelated layouts, "
                             "and many pixels differ.")
    bands = {"the same picture": [], "a related layout": [], "an unrelated layout": []}
    for name, label in HASH_NAMES.items():
        count = distances[name]
        band = ("the same picture" if count <= NEAR_BITS else "a related layout" if count <= SIMILAR_BITS
                else "an unrelated layout")
        bands[band].append(f"{label} ({count} bits)")
    says = [f"{' and '.join(names)} {'find' if len(names) > 1 else 'finds'} {band}"
            for band, names in bands.items() if names]
    pixels = (f"{share_over:.0%} of pixels differ clearly" if mean_abs else "the pixels are the same at the size compared")
    return "disagree", ("The signals disagree: " + "; ".join(says) + f"; {pixels}. "
                        "Look at the heat map rather than trust one number.")


def difference(image_a, image_b, max_side=MAX_DIFF_SIDE, threshold=THRESHOLD):
    """(Difference, heat map PNG bytes) of two RGB images (any sizes)."""
    size = common_size(image_a.size, image_b.size, max_side)
    a = image_a.resize(size, Image.Resampling.LANCZOS) if image_a.size != size else image_a
    b = image_b.resize(size, Image.Resampling.LANCZOS) if image_b.size != size else image_b
    diff = ImageChops.difference(a, b).convert("L")  # luminance of |a - b| per pixel
    mean_abs = ImageStat.Stat(diff).mean[0]
    histogram = diff.histogram()
    share = sum(histogram[threshold + 1:]) / (size[0] * size[1])
    # Hashed at the size the pixels are compared at, so both kinds of signal read the same images.
    distances = hashes(a).distance(hashes(b))
    verdict, reading = read(distances, mean_abs, share)
    return (Difference(width=size[0], height=size[1], same_aspect=same_aspect(image_a.size, image_b.size),
                       mean_abs=round(mean_abs, 3), share_over=round(share, 5), threshold=threshold,
                       reading=reading, verdict=verdict, **distances),
            heat_map(a, b, diff))


def heat_map(a, b, diff):
    """PNG bytes: where the images differ, hot colours (brighter = bigger difference, boosted so
    small ones show); where they agree, both images blended and dimmed, for orientation."""
    heat = diff.point(_BOOST)
    colours = Image.merge("RGB", [heat.point([c[i] for c in _LUT]) for i in range(3)])
    context = ImageOps.autocontrast(Image.blend(a, b, 0.5).convert("L")).point(lambda v: 40 + v * 70 // 255)
    mask = heat.point(lambda v: min(255, v * 3))  # a faint difference already covers the context
    out = Image.composite(colours, context.convert("RGB"), mask)
    buffer = io.BytesIO()
    out.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def compare_bytes(data_a, data_b, max_side=MAX_DIFF_SIDE, threshold=THRESHOLD):
    """(Difference, heat map PNG bytes) of two encoded images, opened within the limits."""
    # Decoding at up to twice the common size keeps the resizing sharp and the memory bounded.
    fit = 2 * max_side
    return difference(open_image(data_a, fit=fit), open_image(data_b, fit=fit), max_side, threshold)
