"""A fake of Vercel AI Gateway's OpenAI Images route (Vercel's docs).

The OpenAI Images fake (providers/testing/openai.py) with the gateway's differences: only
``openai/...`` model ids, errors in the gateway envelope ``{"error": {message, type, param, code},
"generationId"}`` with the gateway's error types (vercel/ai ``packages/gateway``), an OpenAI
refusal passed through with its ``moderation_blocked`` code [I], and optionally the gateway's
``provider_metadata.gateway`` block with ``cost`` and ``generationId`` [I for images].
"""

import json
import uuid

import httpx

from providers.testing.openai import FakeOpenAI

ERRORS = {
    "auth": (401, {"message": "Invalid API key.", "type": "authentication_error", "param": None, "code": None}),
    "invalid": (400, {"message": "Invalid size '1000x1000' for openai/gpt-image-2: both sides must be multiples of 16.",
                      "type": "invalid_request_error", "param": "size", "code": None}),
    "policy": (400, {"message": "Your request was rejected by the safety system. safety_violations=[violence].",
                     "type": "invalid_request_error", "param": None, "code": "moderation_blocked"}),
    "rate_limit": (429, {"message": "Rate limit exceeded for openai/gpt-image-2.", "type": "rate_limit_exceeded",
                         "param": None, "code": None}),
    "quota": (402, {"message": "Insufficient funds: add credits to use AI Gateway.", "type": "insufficient_funds",
                    "param": None, "code": None}),
    "server": (500, {"message": "Internal server error", "type": "internal_server_error", "param": None, "code": None}),
    "failed_dependency": (424, {"message": "Provider openai returned an error: upstream connect error",
                                "type": "failed_dependency", "param": None, "code": None}),
    "forbidden": (403, {"message": "Request blocked by a team rule.", "type": "forbidden",
                        "param": {"ruleId": "rule_123"}, "code": None}),
    "unknown_model": (404, {"message": "Model 'openai/gpt-image-9' not found", "type": "model_not_found",
                            "param": {"modelId": "openai/gpt-image-9"}, "code": None}),
}
# Scenarios FakeOpenAI does not know; this fake answers them itself.
OWN_SCENARIOS = ("failed_dependency", "forbidden", "unknown_model")


class FakeVercelGateway(FakeOpenAI):
    def __init__(self, api_key="vck-test-key", prefix="/v1", gateway_cost=None, usage_style="openai", **kwargs):
        super().__init__(api_key=api_key, prefix=prefix, **kwargs)
        self.gateway_cost = gateway_cost  # a string like "0.0421" to add provider_metadata.gateway
        self.usage_style = usage_style  # "openai" (snake_case), "camel" (AI SDK names) or "none"

    def error(self, name):
        status, error = ERRORS[name]
        headers = {"retry-after": "7"} if name == "rate_limit" else {}
        return httpx.Response(status, json={"error": error, "generationId": f"gen_{uuid.uuid4().hex[:26]}"},
                              headers=headers)

    def generations(self, request, body):
        if self.scenario in OWN_SCENARIOS:
            return self.error(self.scenario)
        if not str(body.get("model", "")).startswith("openai/"):
            return self.error("unknown_model")
        if self.scenario == "failed_in_200":
            return httpx.Response(200, json={"error": ERRORS["failed_dependency"][1]})
        response = super().generations(request, body)
        payload = json.loads(response.content)
        generation_id = f"gen_{uuid.uuid4().hex[:26]}"
        usage = payload.pop("usage")
        if self.usage_style == "openai":
            payload["usage"] = usage
        elif self.usage_style == "camel":
            payload["usage"] = {"inputTokens": usage["input_tokens"], "outputTokens": usage["output_tokens"],
                                "totalTokens": usage["total_tokens"]}
        if self.gateway_cost is not None:
            payload["provider_metadata"] = {"gateway": {"cost": self.gateway_cost, "marketCost": self.gateway_cost,
                                                        "generationId": generation_id}}
        headers = {"x-vercel-id": f"iad1::{uuid.uuid4().hex[:12]}"}
        return httpx.Response(200, json=payload, headers=headers)
