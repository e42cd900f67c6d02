"""The side-by-side page and its difference image: who may see them, what a blind reviewer sees,
the picking on the results page, and the difference made once and kept in the media storage.
alice (owner) and carol (member) of "Studio" (tests/conftest.py); bob is of another team."""

import hashlib
import io
import json
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from compare import imagediff
from compare.models import Comparison, Result, ResultImage
from compare.review import sidebyside

from tests.compare.factories import finished, results_of
from tests.helpers import client_of, leaks, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings):
    """A fresh, empty media storage for each test (the cache lives there, not on a local disk)."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    return default_storage


def kept_files(storage, folder="diffs"):
    """Every file name under `folder` in the storage."""
    folders, files = storage.listdir(folder)
    return [f"{folder}/{name}" for name in files] + [n for sub in folders for n in kept_files(storage, f"{folder}/{sub}")]


def images_of(comparison):
    return [result.images.get() for result in results_of(comparison)]


def url(comparison, a, b, **extra):
    query = "&".join([f"a={a.pk}", f"b={b.pk}"] + [f"{k}={v}" for k, v in extra.items()])
    return f"/comparisons/{comparison.pk}/side-by-side?{query}"


def diff_url(comparison, a, b):
    return f"/comparisons/{comparison.pk}/side-by-side/diff.png?a={a.pk}&b={b.pk}"


def test_a_member_sees_the_two_images_their_facts_and_the_difference(fox):
    fast, steady, _ = images_of(fox)
    response = client_of("carol").get(url(fox, fast, steady))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'src="/images/{fast.pk}"' in html and f'src="/images/{steady.pk}"' in html
    assert "sandbox:fast" in html and "sandbox:steady" in html and "1024×1024" in html and "PNG" in html
    assert "Latency" in html and "$0.00" in html  # the sandbox reports $0
    assert f'href="{diff_url(fox, fast, steady).replace("&", "&amp;")}"' not in html  # an <img>, not a link
    assert f'src="{diff_url(fox, fast, steady).replace("&", "&amp;")}"' in html
    number = re.search(r"<strong data-phash>(\d+)</strong> of 64 bits", html)
    assert number and int(number.group(1)) > 16 and "Different images" in html
    # Swap, and every image of the comparison to pick from without going back.
    assert f'href="?a={steady.pk}&amp;b={fast.pk}"' in html
    chooser = re.search(r'<form class="sbs-choose".*?</form>', html, re.S).group(0)
    assert chooser.count("<option ") == 2 * 3
    # Same shape: all four views on offer.
    for view in ("sync", "slider", "onion", "diff"):
        assert f'data-sbs-view="{view}"' in html
    assert 'type="range"' in html and "Divider position" in html and "Opacity of image A" in html


def test_the_view_asked_is_the_one_shown(fox):
    fast, steady, _ = images_of(fox)
    html = client_of("alice").get(url(fox, fast, steady, view="diff")).content.decode()
    assert re.search(r'id="sbs-diff"[^>]*data-panel="diff"[^>]*aria-label="Pixel difference">', html)
    assert re.search(r'id="sbs-sync"[^>]*hidden>', html)
    assert 'href="?a=%d&amp;b=%d&amp;view=diff" data-sbs-swap' % (steady.pk, fast.pk) in html


def test_the_difference_png_is_made_once_and_kept_in_storage(fox, media, monkeypatch):
    fast, steady, _ = images_of(fox)
    carol = client_of("carol")
    response = carol.get(diff_url(fox, fast, steady))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    heat = Image.open(io.BytesIO(response.content))
    assert heat.format == "PNG" and heat.size == (1024, 1024)
    kept = [name for name in kept_files(media) if name.endswith(".png")]
    assert len(kept) == 1 and media.open(kept[0]).read() == response.content
    assert kept[0].rsplit("/", 1)[1] == sidebyside.cache_key(fast.sha256, steady.sha256) + ".png"

    def never(*args, **kwargs):
        raise AssertionError("made again")

    monkeypatch.setattr(imagediff, "compare_bytes", never)
    assert carol.get(diff_url(fox, steady, fast)).content == response.content  # swapped: the same entry
    assert carol.get(url(fox, steady, fast, view="diff")).status_code == 200  # the page reads the numbers
    assert len(kept_files(media)) == 2  # a PNG and its numbers, nothing made twice


def test_a_damaged_cache_entry_is_made_again_in_place(fox, media):
    """Numbers that do not parse (an older version, a torn write): made again under the same names,
    with no second copy left beside them."""
    fast, steady, _ = images_of(fox)
    carol = client_of("carol")
    first = carol.get(diff_url(fox, fast, steady)).content
    png_name, json_name = sidebyside.cache_names(sidebyside.cache_key(fast.sha256, steady.sha256))
    media.delete(json_name)
    media.save(json_name, ContentFile(b"{not json"))
    assert carol.get(diff_url(fox, fast, steady)).content == first
    assert sorted(kept_files(media)) == sorted([png_name, json_name])
    assert json.loads(media.open(json_name).read())  # the numbers, whole again


def test_nobody_outside_the_team_and_nobody_signed_out_sees_anything(fox, bob, client):
    fast, steady, _ = images_of(fox)
    outsider = client_of("bob")
    for address in (url(fox, fast, steady), diff_url(fox, fast, steady), f"/comparisons/{fox.pk}/side-by-side"):
        assert outsider.get(address).status_code == 404
        assert client.get(address).status_code == 404


def test_images_of_another_comparison_or_nonsense_are_404(fox, studio):
    fast, steady, _ = images_of(fox)
    other = images_of(finished(studio, prompt="a blue whale"))[0]
    alice = client_of("alice")
    assert alice.get(url(fox, fast, other)).status_code == 404
    assert alice.get(diff_url(fox, other, steady)).status_code == 404
    assert alice.get(f"/comparisons/{fox.pk}/side-by-side?a={fast.pk}&b=x").status_code == 404
    assert alice.get(f"/comparisons/{fox.pk}/side-by-side/diff.png?a={fast.pk}").status_code == 404
    failed = results_of(fox)[2]
    Result.objects.filter(pk=failed.pk).update(status="failed")
    assert alice.get(url(fox, fast, failed.images.get())).status_code == 404  # not a succeeded result's


def test_picks_from_the_results_page_and_a_bare_address_lead_to_the_canonical_page(fox):
    fast, steady, slow = images_of(fox)
    alice = client_of("alice")
    response = alice.get(f"/comparisons/{fox.pk}/side-by-side", {"pick": [slow.pk, fast.pk], "a": fast.pk, "b": steady.pk})
    assert response.status_code == 302 and response["Location"].endswith(f"side-by-side?a={slow.pk}&b={fast.pk}")
    response = alice.get(f"/comparisons/{fox.pk}/side-by-side", {"pick": [slow.pk], "a": fast.pk, "b": steady.pk})
    assert response.status_code == 200  # one tick: the two lists decide
    response = alice.get(f"/comparisons/{fox.pk}/side-by-side")
    assert response.status_code == 302 and response["Location"].endswith(f"?a={fast.pk}&b={steady.pk}")


def test_the_results_page_offers_the_picking(fox):
    fast, steady, slow = images_of(fox)
    html = client_of("alice").get(fox.get_absolute_url()).content.decode()
    assert f'<form id="side-by-side" class="sbs-picker" method="get" action="/comparisons/{fox.pk}/side-by-side"' in html
    for image in (fast, steady, slow):
        assert f'<input type="checkbox" name="pick" value="{image.pk}" form="side-by-side">' in html
    a_list, b_list = re.findall(r'<select name="[ab]" data-sbs-select="[AB]">(.*?)</select>', html, re.S)
    assert "selected" not in a_list and re.search(rf'<option value="{steady.pk}" selected>', b_list)  # B: the second


def test_a_single_image_comparison_offers_no_side_by_side(studio):
    lone = finished(studio, routes=("sandbox:fast",))
    html = client_of("alice").get(lone.get_absolute_url()).content.decode()
    assert 'id="side-by-side"' not in html
    assert client_of("alice").get(f"/comparisons/{lone.pk}/side-by-side").status_code == 200  # says why


@pytest.fixture
def blind_fox(studio):
    return finished(studio, blind=True)


def test_a_blind_reviewer_sees_labels_only_in_their_own_order(blind_fox):
    carol = client_of("carol")
    order = [r.pk for r in blind_order_of(blind_fox, "carol")]
    by_result = {image.result_id: image for image in images_of(blind_fox)}
    first, second = by_result[order[0]], by_result[order[1]]
    page = carol.get(url(blind_fox, first, second)).content.decode()
    assert leaks(page) == [] and "<dt>Latency</dt>" not in page and "<dt>Cost</dt>" not in page
    assert "Result A" in page and "Result B" in page
    options = re.findall(r'<option value="(\d+)"', page.split('name="a"')[1].split("</select>")[0])
    assert [int(pk) for pk in options] == [by_result[pk].pk for pk in order]  # carol's order, not the routes'
    detail = carol.get(blind_fox.get_absolute_url()).content.decode()
    assert leaks(detail) == [] and "Compare<span class=\"visually-hidden\"> image 1 from result A" in detail
    picker = re.search(r'<form id="side-by-side".*?</form>', detail, re.S).group(0)
    assert "Result A" in picker and leaks(picker) == []


def blind_order_of(comparison, name):
    from compare.review.models import Review

    return Review(comparison, user(name)).results


def test_after_the_verdict_the_routes_show(blind_fox):
    carol = client_of("carol")
    fast, steady, _ = images_of(blind_fox)
    carol.post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": "tie"})
    page = carol.get(url(blind_fox, fast, steady)).content.decode()
    assert "sandbox:fast" in page and "<dt>Latency</dt>" in page


def test_held_images_are_not_shown(studio):
    comparison = finished(studio, run=False, hold_images_until_done=True)
    from compare.engine import execution

    first, *_ = results_of(comparison)
    execution.execute_result(first.pk)
    comparison.results.exclude(pk=first.pk).update(status="running")
    alice = client_of("alice")
    image = first.images.get()
    assert alice.get(url(comparison, image, image)).status_code == 404
    assert alice.get(diff_url(comparison, image, image)).status_code == 404
    assert 'id="side-by-side"' not in alice.get(comparison.get_absolute_url()).content.decode()


def replace_with(image, picture):
    """Give a stored image other pixels, as if the provider had sent them."""
    out = io.BytesIO()
    picture.save(out, "PNG")
    data = out.getvalue()
    image.original.save(f"other-{image.pk}.png", ContentFile(data), save=False)
    image.width, image.height = picture.size
    image.bytes, image.sha256 = len(data), hashlib.sha256(data).hexdigest()
    image.save()


def test_images_of_different_shapes_turn_swipe_and_onion_skin_off_and_say_why(fox):
    fast, steady, _ = images_of(fox)
    replace_with(steady, Image.new("RGB", (512, 768), (10, 120, 200)))
    html = client_of("alice").get(url(fox, fast, steady, view="slider")).content.decode()
    assert "Swipe and onion skin are off" in html and "512×768" in html
    assert 'data-sbs-view="slider"' not in html and 'data-sbs-view="onion"' not in html
    assert 'type="range"' not in html
    assert re.search(r'id="sbs-sync"[^>]*aria-label="Side by side, zoomed together">', html)  # not hidden
    assert "both stretched" in html
    response = client_of("alice").get(diff_url(fox, fast, steady))
    assert Image.open(io.BytesIO(response.content)).size == (512, 768)


def test_an_image_over_the_limits_gets_no_difference_but_the_page_still_shows(fox, settings):
    fast, steady, _ = images_of(fox)
    settings.MAX_IMAGE_PIXELS = 1000
    alice = client_of("alice")
    html = alice.get(url(fox, fast, steady)).content.decode()
    assert "No difference image" in html and "pixel limit" in html
    assert alice.get(diff_url(fox, fast, steady)).status_code == 404
    assert ResultImage.objects.filter(pk=fast.pk).exists() and Comparison.objects.filter(pk=fox.pk).exists()
