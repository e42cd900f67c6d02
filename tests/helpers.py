import io

from PIL import Image


def image_bytes(width=64, height=48, fmt="PNG", colour=(200, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()
