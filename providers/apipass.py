"""APIPass (apipass.dev): a Kie-compatible jobs API, ``POST {APIPASS_BASE_URL}/jobs/createTask`` and
``GET {APIPASS_BASE_URL}/jobs/recordInfo?taskId=`` with Bearer auth (APIPass's docs).

The protocol code is Kie's (providers/kie.py): the same body, polling, notes and error mapping;
``resultJson`` may arrive as an object here, which kie.result_urls accepts. The GPT Image 2 model
id on APIPass is not documented: Kie's ``gpt-image-2-text-to-image`` is assumed, and
``APIPASS_MODEL`` overrides it without a code change.

Edits: Kie's ``gpt-image-2-image-to-image`` with ``input.input_urls`` (URLs only, no mask) is
assumed the same way [I: APIPass's docs], and ``APIPASS_EDIT_MODEL`` overrides that id.
"""

from __future__ import annotations

from typing import Mapping

from . import kie
from .base import ImageRequest, ImageResult, Provider, Route

DEFAULT_MODEL = kie.MODEL
DEFAULT_EDIT_MODEL = kie.EDIT_MODEL


def routes(env: Mapping[str, str]) -> list[Route]:
    model = env.get("APIPASS_MODEL") or DEFAULT_MODEL
    edit_model = env.get("APIPASS_EDIT_MODEL") or DEFAULT_EDIT_MODEL
    return [Route("apipass:gpt-image-2", APIPassProvider, model, "APIPass GPT Image 2 (Kie-compatible)",
                  kie.CAPABILITIES, {"edit_model": edit_model})]


class APIPassProvider(Provider):
    slug = "apipass"
    name = "APIPass"
    credential_names = ("APIPASS_API_KEY",)
    base_url_name = "APIPASS_BASE_URL"
    secret_names = ("APIPASS_API_KEY",)
    default_base_url = "https://api.apipass.dev/api/v1"
    poll_interval = 3.0

    def generate(self, request: ImageRequest) -> ImageResult:
        return kie.run_jobs(self, request, self.credentials["APIPASS_API_KEY"])
