"""Item 7a: compare.images.check_image (Pillow validation + WebP thumbnail) on photo-like PNGs of
1024x1024, 1536x1024 and 3840x2160: time, tracemalloc peak, and the process's real peak RSS.

tracemalloc sees only Python's allocators; Pillow decodes into its own malloc'd blocks, which
tracemalloc never sees. So each size is also run once in a fresh subprocess that reports how much
its peak RSS (VmHWM) grew during the call: the memory a worker really needs per image. The same
is measured for a baseline, ``check_image_before_f6``: the image path as it was before finding
F6 (a full-size copy of the decoded frame, then the thumbnail of the copy), so each run shows
what thumbnailing in place saves today.
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

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = [(1024, 1024), (1536, 1024), (3840, 2160)]
LIMITS = dict(max_pixels=40_000_000, max_bytes=50 * 1024 * 1024, thumbnail_size=512)  # the defaults


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def check_image_before_f6(data, *, max_pixels, max_bytes, thumbnail_size):
    """The baseline: compare.images.check_image's decode and thumbnail as they were before F6
    (fixed in commit 25addc4): a full-size ``thumb = image.copy()`` of the decoded frame was
    thumbnailed. The header checks before the decode cost nothing and are left out."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        thumb = image.copy()
    thumb.thumbnail((thumbnail_size, thumbnail_size))
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80, method=4)
    return hashlib.sha256(data).hexdigest(), out.getvalue()


def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(path, variant):
    """In a fresh process: how much the peak RSS grows during one call."""
    from compare.images import check_image

    data = Path(path).read_bytes()
    function = check_image if variant == "check_image" else check_image_before_f6
    function(_tiny_png(), **LIMITS)  # imports and plugin registration before the baseline
    before = hwm_kb()
    function(data, **LIMITS)
    print(json.dumps({"rss_growth_mb": (hwm_kb() - before) / 1024}))


def _tiny_png():
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
            for variant in ("check_image", "before_f6"):
                env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
                out = subprocess.run([sys.executable, __file__, "--child", str(path), variant], cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=120, check=True)
                growth[variant] = json.loads(out.stdout.strip().splitlines()[-1])["rss_growth_mb"]
            t_before_f6 = []
            for _ in range(reps):
                t0 = time.perf_counter()
                check_image_before_f6(data, **LIMITS)
                t_before_f6.append((time.perf_counter() - t0) * 1000)
            row = {"size": f"{width}x{height}", "png_bytes": len(data), "thumbnail_bytes": len(checked.thumbnail),
                   "ms_median": statistics.median(times), "ms_max": max(times), "reps": reps,
                   "tracemalloc_peak_mb": traced_peak / 1e6 / 1.048576,
                   "rss_growth_mb": growth["check_image"], "rss_growth_before_f6_mb": growth["before_f6"],
                   "ms_before_f6_median": statistics.median(t_before_f6),
                   "decoded_rgb_mb": width * height * 3 / 1024 / 1024}
            rows.append(row)
            log(f"image {row['size']}: {row['ms_median']:.0f} ms, tracemalloc peak {row['tracemalloc_peak_mb']:.1f} MiB, "
                f"RSS growth {row['rss_growth_mb']:.1f} MiB (before F6: {row['rss_growth_before_f6_mb']:.1f} MiB)")
    results["images"] = rows
    return rows


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    child(sys.argv[2], sys.argv[3])
