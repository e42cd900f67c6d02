"""Edits: reference images (and a mask) uploaded once, checked, kept, sent to every route."""

import base64
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from compare.engine import execution, requests as image_requests
from compare.models import Comparison, ReferenceImage, Result

from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db


def upload(name="ref.png", data=None):
    return SimpleUploadedFile(name, data or image_bytes(1024, 1024), content_type="image/png")


def mask_png(width=1024, height=1024, transparent=True):
    out = io.BytesIO()
    Image.new("RGBA" if transparent else "RGB", (width, height)).save(out, "PNG")
    return out.getvalue()


def post(client, **extra):
    data = {"prompt": "add a red scarf", "routes": ["sandbox:fast"], "size": "square", "quality": "low",
            "output_format": "png", "n": "1", **extra}
    return client.post("/", data)


def test_an_edit_keeps_its_references_and_every_route_gets_them(alice_client):
    response = post(alice_client, reference_images=[upload(), upload("second.png")],
                    mask=SimpleUploadedFile("mask.png", mask_png(), content_type="image/png"))
    assert response.status_code == 302, response.content.decode()[:2000]
    comparison = Comparison.objects.get()
    assert [(r.role, r.index, r.width) for r in comparison.references.all()] == [
        ("image", 0, 1024), ("image", 1, 1024), ("mask", 0, 1024)]
    request = image_requests.request_for(comparison)
    assert len(request.images) == 2 and request.mask is not None and request.images[0].url is None
    result = comparison.results.get()
    execution.execute_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == "succeeded" and len(result.request_sent["images"]) == 2
    html = alice_client.get(comparison.get_absolute_url()).content.decode()
    assert "Edit of:" in html


def test_a_route_that_cannot_edit_is_named(alice_client, monkeypatch):
    from compare import catalog
    from providers.base import Capabilities, Route
    from providers.sandbox import SandboxProvider

    plain = Route("sandbox:plain", SandboxProvider, "plain", "Plain", Capabilities(), {"latency": (0, 0)})
    real = catalog.available_routes
    monkeypatch.setattr(catalog, "available_routes", lambda team=None: {**real(team), "sandbox:plain": plain})
    response = post(alice_client, routes=["sandbox:plain"], reference_images=[upload()])
    assert response.status_code == 400
    assert "sandbox:plain cannot do edits with reference images" in response.content.decode()


def test_a_non_image_upload_is_refused_by_name_and_nothing_is_kept(alice_client):
    response = post(alice_client, reference_images=[upload("notes.png", b"%PDF-1.4 not an image")])
    assert response.status_code == 400
    assert "notes.png: This is data that is not an image." in response.content.decode()
    assert not Comparison.objects.exists() and not ReferenceImage.objects.exists()


@pytest.mark.parametrize("mask,message", [
    (mask_png(transparent=False), "must be a PNG with transparency"),
    (mask_png(512, 512), "must match the first reference image, 1024x1024"),
])
def test_a_bad_mask_is_refused_with_the_reason(alice_client, mask, message):
    response = post(alice_client, reference_images=[upload()], mask=SimpleUploadedFile("m.png", mask))
    assert response.status_code == 400 and message in response.content.decode()


def test_a_mask_alone_is_refused(alice_client):
    response = post(alice_client, mask=SimpleUploadedFile("m.png", mask_png()))
    assert "A mask needs a reference image" in response.content.decode()


def test_the_api_takes_references_as_data_urls(client, alice_token):
    data_url = "data:image/png;base64," + base64.b64encode(image_bytes(1024, 1024)).decode()
    body = {"prompt": "edit", "routes": ["sandbox:fast"], "images": [data_url], "params": {"quality": "low"}}
    response = client.post("/api/comparisons", json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 201, response.content
    assert [r["role"] for r in response.json()["references"]] == ["image"]
    body["images"] = ["https://example.com/a.png"]
    response = client.post("/api/comparisons", json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 400 and "not a base64 data: URL" in response.json()["errors"]["images"][0]


def test_run_again_and_edit_and_run_reuse_the_references(alice_client, alice):
    post(alice_client, reference_images=[upload()])
    original = Comparison.objects.get()
    alice_client.post(f"/comparisons/{original.pk}/rerun")
    again = Comparison.objects.exclude(pk=original.pk).get()
    assert again.references.get().sha256 == original.references.get().sha256
    html = alice_client.get("/", {"from": original.pk}).content.decode()
    assert f'name="references_from" value="{original.pk}"' in html
    response = post(alice_client, references_from=str(original.pk))
    assert response.status_code == 302
    assert Comparison.objects.order_by("-pk").first().references.count() == 1


def test_references_get_an_expiring_public_link_only_when_site_url_is_set(alice_client, settings):
    from django.test import Client

    client = Client()  # nobody logged in
    post(alice_client, reference_images=[upload()])
    comparison = Comparison.objects.get()
    settings.SITE_URL = "https://compare.example.com"
    url = image_requests.request_for(comparison).images[0].url
    assert url.startswith("https://compare.example.com/inputs/")
    path = url.removeprefix("https://compare.example.com")
    assert client.get(path).status_code == 200  # no login: the provider fetches it
    assert client.get(path[:-3] + "xyz").status_code == 404
    assert client.get(comparison.references.get().get_absolute_url()).status_code == 401


def test_a_route_that_fetches_references_by_url_needs_site_url(alice_client, monkeypatch, settings):
    from compare import catalog
    from providers.base import Capabilities, Route
    from providers.sandbox import SandboxProvider

    by_url = Route("sandbox:byurl", SandboxProvider, "byurl", "By URL",
                   Capabilities(edit=True, edit_needs_public_url=True), {"latency": (0, 0)})
    real = catalog.available_routes
    monkeypatch.setattr(catalog, "available_routes", lambda team=None: {**real(team), "sandbox:byurl": by_url})
    settings.SITE_URL = ""
    response = post(alice_client, routes=["sandbox:byurl"], reference_images=[upload()])
    assert "sandbox:byurl fetches reference images by URL: set SITE_URL" in response.content.decode()
    settings.SITE_URL = "https://compare.example.com"
    assert post(alice_client, routes=["sandbox:byurl"], reference_images=[upload()]).status_code == 302
