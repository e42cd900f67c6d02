"""Item 7a: compare.images.check_image (Pillow validation + WebP thumbnail) on photo-like PNGs of
1024x1024, 1536x1024 and 3840x2160: time, tracemalloc peak, and the process's real peak RSS.

tracemalloc sees only Python's allocators; Pillow decodes into its own malloc'd blocks, which
tracemalloc never sees. So each size is also run once in a fresh subprocess that reports how much
its peak RSS (VmHWM) grew during the call: the memory a worker really needs per image. The same
is measured for a variant that thumbnails the decoded image in place instead of copying it first
(the change proposed in BENCHMARKS.md), to show what it would save.
"""

import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = [(1024, 1024), (1536, 1024), (3840, 2160)]
LIMITS = dict(max_pixels=40_000_000, max_bytes=50 * 1024 * 1024, thumbnail_size=512)  # the defaults


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def check_image_in_place(data, *, max_pixels, max_bytes, thumbnail_size):
    """compare.images.check_image with one change: no full-size `image.copy()` before the
    thumbnail (the decoded image is not used afterwards). Same checks, same output."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ValueError("too many pixels")
        image.load()
        fmt = image.format
        image.thumbnail((thumbnail_size, thumbnail_size))
        thumb = image
        if thumb.mode not in ("RGB", "RGBA"):
            thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
        out = io.BytesIO()
        thumb.save(out, "WEBP", quality=80, method=4)
    return width, height, fmt, hashlib.sha256(data).hexdigest(), out.getvalue()


def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(path, variant):
    """In a fresh process: how much the peak RSS grows during one call."""
    from compare.images import check_image

    data = Path(path).read_bytes()
    function = check_image if variant == "check_image" else check_image_in_place
    function(_tiny_png(), **LIMITS)  # imports and plugin registration before the baseline
    before = hwm_kb()
    function(data, **LIMITS)
    print(json.dumps({"rss_growth_mb": (hwm_kb() - before) / 1024}))


def _tiny_png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    return out.getvalue()


def run(results):
    from bench.fake import photo_like
    from compare.images import check_image

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            data = photo_like(width, height, "png")
            reps = 3 if width * height > 4_000_000 else 7
            check_image(data, **LIMITS)  # warm
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                checked = check_image(data, **LIMITS)
                times.append((time.perf_counter() - t0) * 1000)
            tracemalloc.start()
            tracemalloc.reset_peak()
            check_image(data, **LIMITS)
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            path = Path(tmp) / f"{width}x{height}.png"
            path.write_bytes(data)
            growth = {}
            for variant in ("check_image", "in_place"):
                env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
                out = subprocess.run([sys.executable, __file__, "--child", str(path), variant], cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=120, check=True)
                growth[variant] = json.loads(out.stdout.strip().splitlines()[-1])["rss_growth_mb"]
            t_in_place = []
            for _ in range(reps):
                t0 = time.perf_counter()
                check_image_in_place(data, **LIMITS)
                t_in_place.append((time.perf_counter() - t0) * 1000)
            row = {"size": f"{width}x{height}", "png_bytes": len(data), "thumbnail_bytes": len(checked.thumbnail),
                   "ms_median": statistics.median(times), "ms_max": max(times), "reps": reps,
                   "tracemalloc_peak_mb": traced_peak / 1e6 / 1.048576,
                   "rss_growth_mb": growth["check_image"], "rss_growth_in_place_mb": growth["in_place"],
                   "ms_in_place_median": statistics.median(t_in_place),
                   "decoded_rgb_mb": width * height * 3 / 1024 / 1024}
            rows.append(row)
            log(f"image {row['size']}: {row['ms_median']:.0f} ms, tracemalloc peak {row['tracemalloc_peak_mb']:.1f} MiB, "
                f"RSS growth {row['rss_growth_mb']:.1f} MiB (in place: {row['rss_growth_in_place_mb']:.1f} MiB)")
    results["images"] = rows
    return rows


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    child(sys.argv[2], sys.argv[3])
