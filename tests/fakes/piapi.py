"""A fake of PiAPI's OpenAI-compatible image API (providers.md section 8).

The OpenAI Images fake (tests/fakes/openai.py) with PiAPI's differences: image URLs by default
(the documented example answers ``data[].url``, served by this fake on its own host), PiAPI's
model list (``gpt-image-2``, ``gpt-image-2-preview``, ...), and an exhausted balance. The error
envelope of this endpoint is undocumented; OpenAI's is assumed [I].
"""

import httpx

from tests.fakes.openai import FakeOpenAI

MODELS = ("gpt-image-1", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-preview")


class FakePiAPI(FakeOpenAI):
    def __init__(self, api_key="piapi-test-key", prefix="/v1", image_mode="url", **kwargs):
        super().__init__(api_key=api_key, prefix=prefix, image_mode=image_mode, **kwargs)

    def generations(self, request, body):
        if body.get("model") not in MODELS:
            return httpx.Response(400, json={"error": {"message": f"model {body.get('model')!r} is not supported",
                                                       "type": "invalid_request_error", "param": "model", "code": None}})
        if self.scenario == "insufficient_credit":
            return httpx.Response(402, json={"error": {"message": "Insufficient credits: please top up your PiAPI account.",
                                                       "type": "insufficient_quota", "param": None, "code": None}})
        return super().generations(request, body)
