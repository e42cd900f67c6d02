"""The preview image a share link unfurls with: a 1200x630 contact sheet of the results (or of the
comparisons of a set), each tile labelled with its route name or blind label, as compare/review/visibility.py
allows (held images are not drawn). Drawn with Pillow on first request and kept in storage; a sheet
of something still running is not kept (it will change)."""

import io
import math

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFont, ImageOps

from compare.review.visibility import Visibility

WIDTH, HEIGHT = 1200, 630
TOP, LABEL, PAD = 70, 36, 14
BACKGROUND, TILE, TEXT, MUTED = (17, 24, 39), (45, 55, 72), (255, 255, 255), (203, 213, 225)
HELD = "held until all finish"


def preview_png(link, comparison=None):
    """PNG bytes of the link's preview (of one comparison, or of the link's set)."""
    path = link.preview_path(comparison)
    if default_storage.exists(path):
        with default_storage.open(path, "rb") as handle:
            return handle.read()
    if comparison is not None:
        seen = Visibility.for_preview(link, comparison)
        labelled = link.labelled(comparison.results.prefetch_related("images"))
        tiles = [(label, _first_image(result) if seen.images else None,
                  result.get_status_display() if seen.images else HELD) for label, result in labelled]
        title, finished = comparison.prompt, comparison.status == "done"
    else:
        comparisons = list(link.comparisons().prefetch_related("results__images")[:12])
        tiles = []
        for c in comparisons:
            shown = Visibility.for_preview(link, c).images
            tiles.append((f"#{c.pk} {c.prompt}", _first_of(c) if shown else None, c.status if shown else HELD))
        title, finished = f"{len(link.comparison_ids)} comparisons", all(c.status == "done" for c in comparisons)
    data = contact_sheet(tiles, title)
    if finished:
        default_storage.save(path, ContentFile(data))
    return data


def _first_image(result):
    images = list(result.images.all())
    return images[0] if images else None


def _first_of(comparison):
    return next((image for result in comparison.results.all() for image in result.images.all()), None)


def _grid(count):
    """(side, rows, cols): the largest square tile that fits count tiles below the title."""
    best = (0, 1, count)
    for rows in range(1, count + 1):
        cols = math.ceil(count / rows)
        side = min((WIDTH - PAD * (cols + 1)) / cols, (HEIGHT - TOP - PAD * (rows + 1)) / rows - LABEL)
        if side > best[0]:
            best = (side, rows, cols)
    return int(best[0]), best[1], best[2]


def _fit(draw, text, font, width):
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(tiles, title):
    """tiles: [(label, ResultImage or None, status text)] -> PNG bytes, 1200x630."""
    sheet = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font, label_font = ImageFont.load_default(size=30), ImageFont.load_default(size=20)
    draw.text((PAD * 2, TOP // 2), _fit(draw, title, title_font, WIDTH - PAD * 4), font=title_font,
              fill=TEXT, anchor="lm")
    side, rows, cols = _grid(max(len(tiles), 1))
    cell_w = (WIDTH - PAD * (cols + 1)) / cols
    for n, (label, image, status) in enumerate(tiles):
        row, col = divmod(n, cols)
        x = int(PAD + col * (cell_w + PAD) + (cell_w - side) / 2)
        y = int(TOP + PAD + row * (side + LABEL + PAD))
        draw.rectangle((x, y, x + side - 1, y + side - 1), fill=TILE)
        thumb = _thumbnail(image, side)
        if thumb is not None:
            sheet.paste(thumb, (x + (side - thumb.width) // 2, y + (side - thumb.height) // 2))
        else:
            draw.text((x + side // 2, y + side // 2), status, font=label_font, fill=MUTED, anchor="mm")
        draw.text((x + side // 2, y + side + LABEL // 2), _fit(draw, label, label_font, side), font=label_font,
                  fill=TEXT, anchor="mm")
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=True)
    return out.getvalue()


def _thumbnail(image, side):
    if image is None:
        return None
    try:
        with image.thumbnail.open("rb") as handle, Image.open(handle) as opened:
            return ImageOps.contain(opened.convert("RGB"), (side, side))
    except (OSError, ValueError):
        return None  # missing or unreadable file: the tile says the status instead
