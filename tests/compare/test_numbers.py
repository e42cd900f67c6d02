"""Every number says exactly what it is (issue 13): cost words, rough catalog prices, what each
route did with the request, time attributed to who spent it, and a difference reading that
agrees with every signal it is read from."""

import io

import pytest
from PIL import Image

from compare import imagediff


# --- The side-by-side reading agrees with every signal --------------------------------------


def _png(colour, size=(64, 64)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_a_reading_never_contradicts_a_hash(monkeypatch):
    """pHash says near, dHash says unrelated: the old reading (pHash and pixels only) called this
    near-identical; now the verdict is "disagree" and the reading names each signal."""
    hashes = iter([imagediff.Hashes(phash=0, dhash=0, ahash=0),
                   imagediff.Hashes(phash=0b111, dhash=(1 << 30) - 1, ahash=0b11)])
    monkeypatch.setattr(imagediff, "hashes", lambda image: next(hashes))
    difference, _ = imagediff.compare_bytes(_png((100, 100, 100)), _png((104, 100, 100)))
    assert (difference.phash, difference.dhash, difference.ahash) == (3, 30, 2)
    assert difference.share_over < 0.10
    assert difference.verdict == "disagree"
    assert "pHash (3 bits) and aHash (2 bits) find the same picture" in difference.reading
    assert "dHash (30 bits) finds an unrelated layout" in difference.reading


@pytest.mark.parametrize("distances, mean_abs, share, verdict", [
    ({"phash": 0, "dhash": 0, "ahash": 0}, 0.0, 0.0, "identical"),
    ({"phash": 2, "dhash": 4, "ahash": 1}, 1.5, 0.01, "near-identical"),
    ({"phash": 12, "dhash": 9, "ahash": 14}, 20.0, 0.4, "similar"),
    ({"phash": 30, "dhash": 28, "ahash": 13}, 60.0, 0.7, "different"),
    ({"phash": 30, "dhash": 28, "ahash": 31}, 0.5, 0.01, "disagree"),  # hashes far, pixels near
    ({"phash": 2, "dhash": 3, "ahash": 25}, 3.0, 0.02, "disagree"),
    ({"phash": 3, "dhash": 3, "ahash": 3}, 0.0, 0.0, "near-identical"),  # same pixels, hashes a little apart
])
def test_each_verdict_agrees_with_every_signal(distances, mean_abs, share, verdict):
    found, reading = imagediff.read(distances, mean_abs, share)
    assert found == verdict
    if verdict == "disagree":
        assert reading.startswith("The signals disagree")
    if verdict in ("near-identical", "similar"):  # "every hash" is only said when every hash is in the band
        assert max(distances.values()) <= (imagediff.NEAR_BITS if verdict == "near-identical"
                                           else imagediff.SIMILAR_BITS)
