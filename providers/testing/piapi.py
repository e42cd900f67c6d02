"""A fake of PiAPI's OpenAI-compatible image API (PiAPI's docs).

The OpenAI Images fake (providers/testing/openai.py) with PiAPI's differences: image URLs by default
(the documented example answers ``data[].url``, served by this fake on its own host), PiAPI's
model list (``gpt-image-2``, ``gpt-image-2-preview``, ...), and an exhausted balance. The error
envelope of this endpoint is undocumented; OpenAI's is assumed [I].

Edits: ``POST {prefix}/images/edits`` multipart, checked by the OpenAI fake's rules. PiAPI
documents one file field, ``image`` (its example: a ``gpt-image-2-preview`` edit of one image);
this fake takes OpenAI's ``image[]`` list for ``gpt-image-2`` [I] but, for the preview, only the
documented single ``image`` and no ``mask`` [I: PiAPI's answer to more is unknown; here a 400].
"""

import httpx

from providers.testing.openai import FakeOpenAI

MODELS = ("gpt-image-1", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-preview")


def piapi_error(status, message, param=None, kind="invalid_request_error"):
    return httpx.Response(status, json={"error": {"message": message, "type": kind, "param": param, "code": None}})


class FakePiAPI(FakeOpenAI):
    def __init__(self, api_key="piapi-test-key", prefix="/v1", image_mode="url", **kwargs):
        super().__init__(api_key=api_key, prefix=prefix, image_mode=image_mode, **kwargs)

    def edits(self, request, form, parts):
        if form.get("model") == "gpt-image-2-preview":
            fields = [part["field"] for part in parts]
            if "mask" in fields:
                return piapi_error(400, "mask is not supported for gpt-image-2-preview", "mask")
            if fields.count("image") + fields.count("image[]") > 1 or "image[]" in fields:
                return piapi_error(400, "gpt-image-2-preview takes exactly one file in the 'image' field", "image")
        return super().edits(request, form, parts)

    def generations(self, request, body, references=()):
        if body.get("model") not in MODELS:
            return piapi_error(400, f"model {body.get('model')!r} is not supported", "model")
        if self.scenario == "insufficient_credit":
            return piapi_error(402, "Insufficient credits: please top up your PiAPI account.", kind="insufficient_quota")
        return super().generations(request, body, references=references)
