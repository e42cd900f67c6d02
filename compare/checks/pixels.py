"""What the spec checks need of an image's pixels (compare/checks/checks.py): run in the image processes
(compare/images.py), so this module imports Pillow only: no Django, no models (a spawned process
unpickles the function by importing its module, before any Django set-up)."""

import io

from PIL import Image, ImageStat

# An image whose every colour channel has a standard deviation under this (0-255 scale), over a
# 256-pixel preview flattened onto white, is "blank or near-uniform".
BLANK_STDDEV = 3.0
PREVIEW_SIZE = 256


def inspect_pixels(data, want_ocr_image):
    """What the spec checks need of one image's bytes, and (want_ocr_image) a grayscale PNG of it
    flattened onto white for Tesseract. Reads no settings: it runs in the image processes."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        fmt = (image.format or "").lower()
        has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
        if has_alpha:
            rgba = image.convert("RGBA")
            alpha = rgba.getchannel("A")
            transparent = alpha.histogram()
            transparent_fraction = 1 - transparent[255] / (rgba.width * rgba.height)
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=alpha)
        else:
            transparent_fraction = 0.0
            flat = image.convert("RGB")
        preview = flat.copy()
        preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
        stddev = max(ImageStat.Stat(preview).stddev)
        ocr_png = None
        if want_ocr_image:
            out = io.BytesIO()
            flat.convert("L").save(out, "PNG", compress_level=1)
            ocr_png = out.getvalue()
        return {"width": image.width, "height": image.height, "format": fmt, "has_alpha": has_alpha,
                "transparent_fraction": round(transparent_fraction, 4), "stddev": round(stddev, 2),
                "blank": stddev < BLANK_STDDEV or transparent_fraction >= 0.999}, ocr_png
