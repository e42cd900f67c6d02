"""The ImageRequest a comparison sends: its parameters and its reference images.

Each image carries an expiring public link when SITE_URL is set (for protocols that fetch
inputs by URL)."""

import dataclasses

from django.conf import settings
from django.core import signing
from django.urls import reverse

from providers.base import ImageRequest, InputImage, parse_size

from compare.images import check_image
from compare.models import ReferenceImage

REFERENCE_SALT = "compare.reference"
REFERENCE_LINK_SECONDS = 24 * 3600


def image_request(prompt, params):
    width, height = parse_size(params.get("size", "1024x1024"))
    return ImageRequest(prompt=prompt, width=width, height=height, quality=params.get("quality", "auto"),
                        output_format=params.get("output_format", "png"), n=int(params.get("n", 1)),
                        seed=params.get("seed"))


def stored_references(comparison):
    """The comparison's reference images and mask, re-read and re-checked from storage."""
    images, mask = [], None
    for row in comparison.references.all():
        with row.file.open("rb") as handle:
            checked = check_image(handle.read())
        if row.role == ReferenceImage.MASK:
            mask = checked
        else:
            images.append(checked)
    return images, mask


def request_for(comparison):
    """The ImageRequest a worker sends: parameters plus the reference images, each with an
    expiring public link when SITE_URL is set (for protocols that fetch inputs by URL)."""
    request = image_request(comparison.prompt, comparison.params)
    images, mask = [], None
    for row in comparison.references.all():
        with row.file.open("rb") as handle:
            data = handle.read()
        url = None
        if settings.SITE_URL:
            token = signing.dumps(row.pk, salt=REFERENCE_SALT)
            url = settings.SITE_URL.rstrip("/") + reverse("compare:reference-public", args=[token])
        item = InputImage(data=data, mime=f"image/{row.format}", filename=f"{row.role}-{row.index}.{row.format}", url=url)
        if row.role == ReferenceImage.MASK:
            mask = item
        else:
            images.append(item)
    return dataclasses.replace(request, images=tuple(images), mask=mask)
