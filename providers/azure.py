"""Azure OpenAI: GPT Image 2 on your own Azure resource, one route per deployment
(Azure OpenAI's docs).

Two URL styles, chosen by ``AZURE_OPENAI_API_STYLE``:

- ``deployments`` (default, classic): ``POST {endpoint}/openai/deployments/{deployment}/images/
  generations?api-version={OPENAI_API_VERSION or 2025-04-01-preview}``;
- ``v1``: ``POST {endpoint}/openai/v1/images/generations`` with the deployment name as the body's
  ``model`` and no ``api-version``.

An edit goes to the same place with ``images/edits`` for ``images/generations``, as OpenAI's
multipart/form-data (reference images as ``image`` / ``image[]`` file parts, optional ``mask``;
Azure OpenAI's docs say "multipart as in OpenAI" [I]).

What a route offers follows the api-version it sends. The deployments URLs default to
2025-04-01-preview, whose spec (Azure/azure-rest-api-specs, specification/cognitiveservices/
data-plane/AzureOpenAI/inference/preview/2025-04-01-preview/inference.yaml; extract in
tests/conformance/specs/azure) allows ``output_format`` png or jpeg only and the sizes 1024x1024,
1024x1536, 1536x1024 (1792x1024 and 1024x1792 are dall-e-3's): those routes offer exactly that.
Another dated ``OPENAI_API_VERSION`` is one no spec here was checked against, so it offers the
same proven subset. The ``v1`` API is OpenAI's own surface and offers what the OpenAI route does
(not checked against an Azure spec: docs/providers.md).

Both authenticate with ``api-key: <key>`` and speak the OpenAI Images shape, so the body, the
multipart edit parts, the response reading and the base error mapping are the functions of
``providers.openai``; this module
adds Azure's own error shapes (``inner_error`` / ``ResponsibleAIPolicyViolation``, the 403
"resource temporarily blocked", rate-limit messages that carry the wait in words).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

import httpx

from . import http
from .base import (SIZE_PRESETS, AuthenticationError, Capabilities, ContentPolicyError, ImageRequest,
                   InvalidRequestError, ImageResult, Provider, RateLimitError, Route)
from .openai import CAPABILITIES, edit_parts, images_body, images_result, raise_for_openai_error

DEFAULT_API_VERSION = "2025-04-01-preview"
# 2025-04-01-preview's imageGenerationsRequest: imagesOutputFormat png|jpeg, imageSize without
# custom sizes (of its enum, 1024x1024, 1024x1536 and 1536x1024 are the gpt-image ones).
DATED_CAPABILITIES = dataclasses.replace(CAPABILITIES, sizes=tuple(SIZE_PRESETS.values()), custom_size=None,
                                         formats=("png", "jpeg"))
API_STYLES = {"deployments": "deployments", "deployment": "deployments", "classic": "deployments", "v1": "v1"}
# Azure bills GPT Image 2 on Global deployments at OpenAI's token rates (Azure OpenAI's docs).
PRICE_KEY = "openai:gpt-image-2"
# Response headers worth keeping beyond the OpenAI ones (the deployment that answered).
EXTRA_KEPT_HEADERS = ("x-ms-deployment-name",)
POLICY_CODES = ("moderation_blocked", "content_policy_violation", "content_filter", "contentfilter",
                "responsibleaipolicyviolation")
_RETRY_IN_WORDS = re.compile(r"retry after (\d+(?:\.\d+)?) second", re.IGNORECASE)


def deployment_names(env: Mapping[str, str]) -> list[str]:
    """AZURE_OPENAI_DEPLOYMENTS (comma-separated), else AZURE_OPENAI_DEPLOYMENT, in order, once each."""
    return http.comma_list(env, "AZURE_OPENAI_DEPLOYMENTS", "AZURE_OPENAI_DEPLOYMENT")


def api_style(env: Mapping[str, str]) -> str:
    value = (env.get("AZURE_OPENAI_API_STYLE") or "deployments").strip().lower()
    if value not in API_STYLES:
        raise ValueError(f"AZURE_OPENAI_API_STYLE is {value!r}: use 'deployments' (the classic "
                         "/openai/deployments/... URLs) or 'v1' (the /openai/v1/... API).")
    return API_STYLES[value]


def capabilities_for(style: str) -> Capabilities:
    """What a route can ask for at the api-version it sends: the v1 API is OpenAI's surface; the
    deployments URLs carry a dated version, held to what 2025-04-01-preview's spec allows."""
    return CAPABILITIES if style == "v1" else DATED_CAPABILITIES


def routes(env: Mapping[str, str]) -> list[Route]:
    style = api_style(env)
    api_version = (env.get("OPENAI_API_VERSION") or "").strip()
    return [
        Route(key=f"azure:{name}", provider=AzureOpenAIProvider, model=name, label=f"Azure OpenAI {name}",
              capabilities=capabilities_for(style),
              options={"api_style": style, "api_version": api_version, "price_key": PRICE_KEY})
        for name in deployment_names(env)
    ]


class AzureOpenAIProvider(Provider):
    slug = "azure"
    name = "Azure OpenAI"
    credential_names = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")
    # The resource endpoint is the root the documented /openai/... paths are appended to, and it
    # has no public default: every Azure resource has its own host.
    base_url_name = "AZURE_OPENAI_ENDPOINT"
    secret_names = ("AZURE_OPENAI_API_KEY",)
    default_base_url = ""

    def endpoint(self) -> str:
        """The resource root, also when given as the SDK's .../openai or .../openai/v1 base URL."""
        root = self.base_url.rstrip("/")
        for suffix in ("/openai/v1", "/openai"):
            if root.endswith(suffix):
                return root[: -len(suffix)]
        return root

    def check_version(self, request: ImageRequest) -> None:
        """Refuse, before anything is sent, a size or format the api-version sent does not allow."""
        caps = self.route.capabilities
        version = self.url()[1].get("api-version") or "v1"
        if request.output_format not in caps.formats:
            raise InvalidRequestError(f"Azure OpenAI api-version {version} takes output_format "
                                      f"{' or '.join(caps.formats)}, not {request.output_format}.")
        if (request.width, request.height) not in caps.sizes and (
                caps.custom_size is None or caps.custom_size.problem(request.width, request.height)):
            raise InvalidRequestError(f"Azure OpenAI api-version {version} takes the sizes "
                                      f"{', '.join(f'{w}x{h}' for w, h in caps.sizes)}, not {request.size}.")

    def url(self, operation: str = "generations") -> tuple[str, dict[str, str]]:
        """The URL of ``images/<operation>`` (generations or edits) and its query parameters for
        this route's API style."""
        version = self.route.options.get("api_version") or ""
        if self.route.options.get("api_style") == "v1":
            # v1 takes no dated api-version; only the SDK's "preview"/"latest" channels apply.
            return f"{self.endpoint()}/openai/v1/images/{operation}", (
                {"api-version": version} if version in ("preview", "latest") else {})
        deployment = self.route.model
        return (f"{self.endpoint()}/openai/deployments/{deployment}/images/{operation}",
                {"api-version": version or DEFAULT_API_VERSION})

    def generate(self, request: ImageRequest) -> ImageResult:
        self.check_version(request)
        headers = {"api-key": self.credentials["AZURE_OPENAI_API_KEY"]}
        if request.is_edit:
            # On the deployments URLs the deployment is in the path; the model field is sent
            # all the same (the OpenAI SDK sends it; v1 needs it to pick the deployment).
            parts = edit_parts(self.route.model, request)
            url, params = self.url("edits")
            response = http.send(self.client, "POST", url, params=params, **parts.send_kwargs(), headers=headers,
                                 raise_for=raise_for_azure_error)
            sent_url = str(httpx.URL(url, params=params))
            result = images_result(response, request, self.route, parts.form, sent_url,
                                   request_sent=parts.sent(sent_url))
        else:
            body = images_body(self.route.model, request)
            url, params = self.url()
            response = http.send(self.client, "POST", url, params=params, json=body, headers=headers,
                                 raise_for=raise_for_azure_error)
            sent_url = str(httpx.URL(url, params=params))
            result = images_result(response, request, self.route, body, sent_url)
        headers = dict(result.response_headers)
        headers.update({k: v for k, v in response.headers.items() if k.lower() in EXTRA_KEPT_HEADERS})
        return dataclasses.replace(
            result,
            request_id=response.headers.get("x-request-id") or response.headers.get("apim-request-id") or result.request_id,
            response_headers=headers,
        )


def raise_for_azure_error(response: httpx.Response) -> None:
    """Azure's own error shapes first, then the OpenAI envelope (``raise_for_openai_error``);
    what neither recognises falls to the generic status mapping of ``http.send``."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    status = response.status_code
    message = http.error_message(response)
    text = f"HTTP {status}: {message}"
    if isinstance(error, dict):
        inner = error.get("inner_error") or error.get("innererror") or {}
        codes = {str(error.get("code") or "").lower(), str(inner.get("code") or "").lower() if isinstance(inner, dict) else ""}
        if codes & set(POLICY_CODES):
            filtered = _filtered_categories(inner if isinstance(inner, dict) else {})
            raise ContentPolicyError(text + (f" (filtered: {', '.join(filtered)})" if filtered else ""), status=status)
    if status == 403 and "temporarily blocked" in message.lower():
        # The whole resource is blocked (aggregate abuse detection), not this prompt: nothing
        # the user can change in the request, and retrying will not help for days.
        raise AuthenticationError(text, status=status)
    if status == 429:
        wait = http.retry_after(response.headers)
        if wait is None:
            said = _RETRY_IN_WORDS.search(message)
            wait = float(said.group(1)) if said else None
        raise RateLimitError(text, status=status, retry_after=wait)
    raise_for_openai_error(response)


def _filtered_categories(inner: Mapping[str, Any]) -> list[str]:
    """The content-filter categories Azure marked ``filtered: true`` (either field spelling)."""
    results = inner.get("content_filter_results") or inner.get("content_filter_result") or {}
    if not isinstance(results, dict):
        return []
    return sorted(name for name, verdict in results.items() if isinstance(verdict, dict) and verdict.get("filtered"))
