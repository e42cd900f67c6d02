"""The parts of the OpenAPI document: small builders, the answers every endpoint may give, the schemas.

compare/api/openapi.py puts them together; the enums of the schemas come from the models."""

from providers.base import QUALITIES, SIZE_PRESETS

from compare.api.presenters import IMAGE_CHECK_FIELDS
from compare.benchmarks.drift import RULES
from compare.benchmarks.models import RunStatus
from compare.benchmarks.runs import MAX_PROMPTS, MAX_REPEATS
from compare.benchmarks.series import WINDOWS
from compare.checks.models import TextStatus
from compare.forms import API_PARAMS
from compare.models import COST_TITLES, CostSource, EstimateSource, Status
from compare.notifications.models import EVENTS, DeliveryStatus, WebhookFormat
from compare.review.models import VerdictKind
from compare.sharing.models import ShareKind
from compare.teams.models import Role

# --- Small builders ---------------------------------------------------------------------------


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema):
    """The schema, or null (OpenAPI 3.1: a type list, or oneOf for a $ref)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    kind = schema["type"]
    schema["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def obj(properties, required=None, description=None, closed=False):
    """An object whose listed properties are all present (required=None) unless told otherwise."""
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array(items):
    return {"type": "array", "items": items}


STRING, INTEGER, NUMBER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
DATETIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
USD = {"type": "string", "pattern": r"^-?\d+(\.\d+)?(E[+-]?\d+)?$",
       "description": "US dollars as a decimal string (never a float)."}
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def json_body(schema, description=None):
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def answer(description, schema=None):
    found = {"description": description}
    if schema is not None:
        found["content"] = {"application/json": {"schema": schema}}
    return found


def path_id(name="pk", what="id"):
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": what}


def query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TEAM_QUERY = query("team", ID, "A team of yours (GET /api/teams); default: your personal team.")

# The answers every endpoint may give besides its own.
UNAUTHORIZED = answer("No or a bad token (and no session): WWW-Authenticate says which.", ref("Error"))
NOT_FOUND = answer("No such object among your teams' (another team's looks the same as none).", ref("Error"))
NOT_ALLOWED = answer("Another method: Allow lists the ones this URL takes.", ref("Error"))
FORBIDDEN = answer("Your role in the team does not allow it (viewers read only; some things are for owners), "
                   "or a session write without its CSRF token.", ref("Error"))
BAD_REQUEST = answer("Bad input: each field named with its reasons (\"__all__\" for the body as a whole).",
                     ref("Errors"))


def operation(op_id, summary, responses, tag, parameters=(), body=None, description=None, mutating=False):
    found = {"operationId": op_id, "summary": summary, "tags": [tag], "parameters": list(parameters),
             "responses": {**responses, "401": UNAUTHORIZED, "405": NOT_ALLOWED}}
    if any(p["in"] == "path" or p["name"] == "team" for p in parameters):
        found["responses"].setdefault("404", NOT_FOUND)
    if any(p["name"] == "team" for p in parameters):
        found["responses"].setdefault("400", answer("?team= is not an id: errors.team says so.", ref("Errors")))
    if mutating or body is not None:
        found["responses"].setdefault("403", FORBIDDEN)
    if body is not None:
        found["requestBody"] = body
        found["responses"].setdefault("400", BAD_REQUEST)
    if description:
        found["description"] = description
    return found


# --- Schemas ------------------------------------------------------------------------------------

TEAM_REF = obj({"id": ID, "name": STRING})
PARAMS = obj({
    "size": {"type": "string", "description": f"WxH in pixels or a preset ({', '.join(SIZE_PRESETS)})."},
    "quality": {"type": "string", "enum": list(QUALITIES)},
    "n": {"type": "integer", "minimum": 1, "description": "Images per route (at most the route's max_n)."},
    "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
    "seed": nullable(INTEGER),
}, required=[], description="Generation parameters, the same for every route.")
IMAGE = obj({"url": URL, "thumbnail_url": URL, "width": INTEGER, "height": INTEGER, "format": STRING,
             "bytes": INTEGER, "sha256": STRING}, required=["url", "thumbnail_url", "sha256"],
            description="An image a route made. Sizes, format and bytes are left out where the viewer may "
                        "not see them.")
RATING = obj({"user": STRING, "value": {"type": "string", "enum": ["up", "down"]}})
COST_SOURCE = {"type": "string", "enum": list(CostSource.values),
               "description": "What cost_usd is: billed (the provider's own figure), usage (its reported usage "
                              "times our catalog price), team_price (the team's own price), estimated (the "
                              "catalog's price for the request as asked) or unknown (then it is no bill)."}
COST_LABEL = {"type": "string", "enum": list(COST_TITLES),
              "description": "The word the pages show beside the cost: " +
                             "; ".join(f"{word}: {title}" for word, title in COST_TITLES.items()) + "."}
ESTIMATE_SOURCE = {"type": "string", "enum": list(EstimateSource.values),
                   "description": "Where estimated_cost_usd came from, fixed at submit (rough: a catalog price "
                                  "marked unresolved)."}
CHECKS_STATUS = nullable({"type": "string", "enum": ["pending", "done", "failed", "missing"],
                          "description": "The automatic checks of a succeeded result (docs/checks.md); null for "
                                         "a result that did not succeed."})
CHECKS = obj({
    "text_status": {"type": "string", "enum": ["", *TextStatus.values]},
    "text_accuracy": nullable(NUMBER), "text_expected": array(STRING), "text_read": STRING,
    "text_notes": array(STRING),
    "size_matches": nullable(BOOLEAN), "size_matches_sent": nullable(BOOLEAN), "aspect_matches": nullable(BOOLEAN),
    "format_matches": nullable(BOOLEAN), "blank": nullable(BOOLEAN), "has_alpha": nullable(BOOLEAN),
    "images": array(obj({name: {} for name in IMAGE_CHECK_FIELDS}, required=[],
                        description="Per image, as compare/checks/checks.py measured it (sizes and formats left out "
                                    "where the viewer may not see them).")),
    "duration_ms": nullable(NUMBER), "checked_at": DATETIME,
}, description="What the automatic checks found (null until they are done, and while images are held).")
RESULT = obj({
    "id": ID,
    "route": nullable(STRING), "label": nullable(STRING), "sandbox": nullable(BOOLEAN),
    "status": {"type": "string", "enum": list(Status.values)},
    "queue_ms": nullable(NUMBER), "latency_ms": nullable(NUMBER),
    "provider_timings_ms": {"type": "object", "additionalProperties": NUMBER},
    "cost_usd": nullable(USD), "cost_source": nullable(COST_SOURCE), "cost_label": nullable(COST_LABEL),
    "estimated_cost_usd": nullable(USD), "estimate_source": nullable(ESTIMATE_SOURCE),
    "error": nullable(STRING), "error_code": nullable(STRING),
    "notes": array(STRING),
    "parameters": {"type": "object", "description": 'What the route did with the request: {"size": {"asked", '
                                                    '"sent", "received"}, ..., "seed": {"asked", "supported", '
                                                    '"sent"}, "revised_prompt": [...]}.'},
    "seed": nullable({"type": "string", "description": '"sent" or "seed not supported by this route" (null: no '
                                                       'seed asked, or not known yet).'}),
    "retried_attempts": array({"type": "object"}),
    "provider_request_id": nullable(STRING), "worker": nullable(STRING),
    "started_at": nullable(DATETIME), "finished_at": nullable(DATETIME),
    "images": array(ref("Image")),
    "checks_status": CHECKS_STATUS, "checks": nullable(ref("Checks")),
    "blind_label": nullable(STRING), "images_held": BOOLEAN,
    "ratings": array(ref("Rating")), "my_rating": nullable({"type": "string", "enum": ["up", "down"]}),
}, description="One route's call. Blind and not yet judged by you: route, label, costs, timings, error text "
               "and request details are null (they would name the route); blind_label (A, B, ...) stands in. "
               "Images held until every route has finished: images is [] and images_held true.")
VERDICT = obj({"user": STRING, "kind": {"type": "string", "enum": list(VerdictKind.values)},
               "winner": nullable(obj({"id": ID, "route": STRING})), "updated_at": DATETIME})
COMMENT = obj({"user": STRING, "text": STRING, "created_at": DATETIME})
REVIEW = obj({
    "blind": BOOLEAN, "hold_images_until_done": BOOLEAN, "masked": BOOLEAN,
    "verdicts": array(ref("Verdict")), "hidden_verdicts": INTEGER,
    "comments": array(ref("Comment")), "hidden_comments": INTEGER,
}, description="The team's verdicts and comments as you may see them: on a blind comparison, only yours until "
               "your own verdict (the others are counted in hidden_*).")
REFERENCE = obj({"role": STRING, "url": URL, "width": INTEGER, "height": INTEGER, "format": STRING, "bytes": INTEGER})
COMPARISON_FIELDS = {
    "id": ID, "prompt": STRING, "params": ref("Params"),
    "status": {"type": "string", "enum": ["running", "done"]},
    "team": ref("TeamRef"), "created_at": DATETIME, "created_by": nullable(STRING),
    "url": URL, "api_url": URL, "rerun_of": nullable(ID), "blind": BOOLEAN, "references": array(ref("Reference")),
}
COMPARISON = obj({**COMPARISON_FIELDS, "results": array(ref("Result")), "review": ref("Review"),
                  "cancel": obj({"cancelled": INTEGER, "stopping": INTEGER})},
                 required=[*COMPARISON_FIELDS, "results", "review"],
                 description="A comparison with its results as you may see them (cancel: only in the answer to a "
                             "cancel: results cancelled before they started, and running ones asked to stop).")
COMPARISON_ROW = obj({**COMPARISON_FIELDS, "routes": nullable(array(STRING))},
                     description="A comparison in a list: routes is null while it is blind to you.")
COMPARISON_PAGE = obj({"comparisons": array(ref("ComparisonRow")), "page": INTEGER, "pages": INTEGER,
                       "count": INTEGER})
COMPARISON_REQUEST = obj({
    "prompt": {"type": "string", "minLength": 1},
    "routes": {"type": "array", "items": STRING, "minItems": 1,
               "description": "Route keys (GET /api/routes)."},
    "params": ref("Params"),
    "team": nullable(ID),
    "images": array({"type": "string", "pattern": "^data:",
                     "description": "An input image as a data: URL (data:image/png;base64,...): an edit."}),
    "mask": nullable({"type": "string", "pattern": "^data:"}),
    "blind": BOOLEAN, "hold_images_until_done": BOOLEAN,
}, required=["prompt", "routes"], closed=True)
ROUTE = obj({
    "key": STRING, "provider": STRING, "label": STRING, "model": STRING, "configured": BOOLEAN,
    "missing_credentials": array(STRING), "unconfigured_reason": nullable(STRING), "sandbox": BOOLEAN,
    "capabilities": obj({
        "sizes": array(STRING), "custom_size": nullable({"type": "object"}), "qualities": array(STRING),
        "formats": array(STRING), "max_n": INTEGER, "prompt_limit": INTEGER, "edit": BOOLEAN, "mask": BOOLEAN,
        "max_input_images": INTEGER, "edit_needs_public_url": BOOLEAN, "seed": BOOLEAN}),
    "price": nullable(obj({"per_image_usd": {"type": "object"}, "per_token_usd": {"type": "object"},
                           "multiplier": STRING, "source": STRING, "url": STRING, "as_of": STRING,
                           "unresolved": {"type": "boolean", "description": "The catalog marks this price "
                                                                            "unresolved: estimates from it are rough."}})),
})
TEAM = obj({"id": ID, "name": STRING, "personal": BOOLEAN, "role": {"type": "string", "enum": list(Role.values)}})
CREDENTIALS = obj({
    "team": ref("TeamRef"),
    "credentials": array(obj({"name": STRING, "read_by": array(STRING),
                              "source": {"type": "string", "enum": ["team", "server", "not set"]},
                              "last4": nullable(STRING), "updated_at": nullable(DATETIME)})),
    "unconfigured_routes": array(obj({"route": STRING, "missing": array(STRING), "reason": STRING})),
}, description="Where each credential comes from; the team's own values show their last four characters only.")
BUDGET = obj({"team": ref("TeamRef"), "monthly_usd": nullable(USD), "spent_usd": nullable(USD),
              "reserved_usd": nullable(USD), "left_usd": nullable(USD)},
             description="This month (UTC): spent is what finished calls cost, reserved what running ones may.")
PROMPT_SET = obj({
    "id": {"type": "string", "description": 'A built-in set\'s slug, or "set-ID" for a team\'s own.'},
    "name": STRING, "description": STRING, "builtin": BOOLEAN,
    "prompts": array(obj({"id": STRING, "title": STRING, "text": STRING, "size": nullable(STRING)})),
})
BATCH_FIELDS = {
    "id": ID, "name": STRING, "prompt_set": obj({"id": STRING, "name": STRING}), "team": ref("TeamRef"),
    "created_at": DATETIME, "created_by": nullable(STRING), "params": ref("Params"), "use_prompt_sizes": BOOLEAN,
    "blind": BOOLEAN, "url": URL, "api_url": URL,
}
CELL = nullable(obj({
    "route": STRING, "status": {"type": "string", "enum": list(Status.values)}, "latency_ms": nullable(NUMBER),
    "cost_usd": nullable(USD), "cost_source": COST_SOURCE, "cost_label": COST_LABEL,
    "estimated_cost_usd": nullable(USD), "estimate_source": nullable(ESTIMATE_SOURCE),
    "error": nullable(STRING),
    "images": array(obj({"url": URL, "thumbnail_url": URL, "width": INTEGER, "height": INTEGER})),
    "checks_status": CHECKS_STATUS, "checks": nullable(ref("Checks")),
}))
BATCH_ROW = obj({
    "position": INTEGER, "title": STRING, "prompt": STRING, "size": nullable(STRING), "size_from_prompt": BOOLEAN,
    "comparison": obj({"id": ID, "url": URL, "api_url": URL}), "masked": BOOLEAN, "finished": INTEGER,
    "total": INTEGER,
    "cells": nullable(array(CELL)),
}, description="One prompt: cells is null while its comparison is blind to you (their order would name routes).")
BATCH = obj({
    **BATCH_FIELDS, "status": {"type": "string", "enum": ["running", "done"]}, "routes": nullable(array(STRING)),
    "rows": array(ref("BatchRow")),
    "columns": nullable(array(obj({
        "route": STRING, "results": INTEGER, "finished": INTEGER, "succeeded": INTEGER,
        "median_latency_ms": nullable(NUMBER),
        "cost_usd_by_source": {"type": "object", "additionalProperties": nullable(USD),
                               "description": "The column's costs summed apart by cost_source."},
        "unknown_cost": INTEGER, "checked": INTEGER, "text_scored": INTEGER,
        "text_accuracy_mean": nullable(NUMBER), "blank": INTEGER, "size_mismatches": INTEGER}))),
    "comparison_ids": array(ID), "cancel": obj({"cancelled": INTEGER, "stopping": INTEGER}),
}, required=[*BATCH_FIELDS, "status", "routes", "rows", "columns"],
    description="A batch with its matrix (comparison_ids: only in the answer to its creation; cancel: only in the "
                "answer to a cancel).")
BATCH_REQUEST = obj({
    "prompt_set": {"type": "string", "description": "A prompt set's id (GET /api/prompt-sets)."},
    "routes": {"type": "array", "items": STRING, "minItems": 1}, "params": ref("Params"), "team": nullable(ID),
    "blind": BOOLEAN, "hold_images_until_done": BOOLEAN, "name": STRING,
    "use_prompt_sizes": {"type": "boolean", "default": True,
                         "description": "A prompt that names a size runs at that size."},
}, required=["prompt_set", "routes"], closed=True)
SHARE_LINK = obj({
    "url": {**nullable(URL), "description": "The public address; null when opening it would show you routes of a "
                                            "comparison still blind to you."}, "api_url": URL, "expires_at": nullable(DATETIME), "created_at": DATETIME,
    "revoked_at": nullable(DATETIME), "last_opened_at": nullable(DATETIME), "live": BOOLEAN,
    "kind": {"type": "string", "enum": list(ShareKind.values)}, "blind": BOOLEAN, "show_costs": BOOLEAN,
    "comparisons": array(ID),
})
SHARE_REQUEST = obj({
    "blind": {"type": "boolean", "default": False}, "show_costs": {"type": "boolean", "default": True},
    "vote": {"type": "boolean", "default": False, "description": "A vote link (always blind)."},
    "expires_in_hours": nullable({"type": "number", "exclusiveMinimum": 0}),
}, required=[])
REVIEW_STATE = obj({
        **REVIEW["properties"], "comparison": ID, "can_review": BOOLEAN, "can_vote": BOOLEAN, "done": BOOLEAN,
        "my_verdict": nullable(obj({"kind": {"type": "string", "enum": list(VerdictKind.values)},
                                    "winner": nullable(ID)})),
        "results": array(obj({"id": ID, "blind_label": nullable(STRING), "route": nullable(STRING),
                              "label": nullable(STRING), "status": {"type": "string", "enum": list(Status.values)},
                              "ratings": array(ref("Rating")),
                              "my_rating": nullable({"type": "string", "enum": ["up", "down"]})})),
    }, description="The review of a comparison as you may see it (as Review), with each result's thumbs (blind "
                   "order and letters until your verdict).")
RATE = {"type": ["number", "null"]}
LEADERBOARD_ROW = obj({
    "rank": nullable(INTEGER), "route": STRING, "label": STRING,
    "score": nullable(NUMBER), "score_low": nullable(NUMBER), "score_high": nullable(NUMBER),
    "votes": INTEGER, "bootstrap_samples": INTEGER, "preliminary": BOOLEAN,
    "wins": INTEGER, "judged_votes": INTEGER, "win_rate": RATE,
    "entered": INTEGER, "settled": INTEGER, "succeeded": INTEGER, "failed": INTEGER, "timed_out": INTEGER,
    "content_refused": INTEGER, "cancelled": INTEGER,
    "success_rate": RATE, "failure_rate": RATE, "timeout_rate": RATE, "content_refusal_rate": RATE,
    "retries": INTEGER, "retried_calls": INTEGER,
    "median_latency_ms": nullable(NUMBER), "p95_latency_ms": nullable(NUMBER),
    "billed_or_usage_cost_per_image_usd": nullable(USD), "estimated_or_team_price_cost_per_image_usd": nullable(USD),
    "estimates_rough": {"type": "boolean", "description": "The catalog's price for the route is unresolved: its "
                                                          "estimates are rough (docs/pricing.md)."},
    "unknown_cost_calls": INTEGER,
    "checked": INTEGER, "text_scored": INTEGER, "text_accuracy_mean": RATE, "blank": INTEGER,
    "size_mismatches": INTEGER,
}, description="One route over the period (compare/insights/leaderboard.py), named as in the leaderboard CSV: rates are "
               "shares (0-1) of settled calls; score is Bradley-Terry on the Elo scale with its 95 % bootstrap "
               "band; costs per image are kept apart by source (from the provider's answer, or estimated), and "
               "calls of unknown cost are counted, never priced at $0; checked, text_scored, blank and "
               "size_mismatches count the automatic checks of succeeded results (docs/checks.md).")
LEADERBOARD = obj({"team": ref("TeamRef"), "filters": obj({"from": STRING, "to": STRING, "quality": STRING,
                                                          "size": STRING}, required=[]),
                   "min_votes": INTEGER, "routes": array(ref("LeaderboardRow"))})

DELIVERY = obj({"id": STRING, "event": STRING, "event_id": STRING,
                "status": {"type": "string", "enum": list(DeliveryStatus.values)}, "attempts": INTEGER,
                "response_code": nullable(INTEGER), "created_at": DATETIME, "finished_at": nullable(DATETIME),
                "next_attempt_at": nullable(DATETIME)})
WEBHOOK = obj({"id": ID, "url": URL, "events": array(STRING),
               "format": {"type": "string", "enum": list(WebhookFormat.values)}, "secret_last4": STRING,
               "created_at": DATETIME, "recent_deliveries": array(ref("Delivery")),
               "secret": {"type": "string", "description": "Only in the answer to its creation, shown this once."}},
              required=["id", "url", "events", "format", "secret_last4", "created_at", "recent_deliveries"],
              description="A webhook of the team (docs/notifications.md): its secret never again after creation.")
WEBHOOK_REQUEST = obj({"url": URL, "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)},
                                              "minItems": 1},
                       "secret": STRING, "format": {"type": "string", "enum": list(WebhookFormat.values)}},
                      required=["url", "events"], closed=True)

BENCHMARK_SUMMARY = obj({
    "runs": INTEGER, "calls": INTEGER, "median_ms": nullable(NUMBER), "p95_ms": nullable(NUMBER),
    "success_rate": nullable(NUMBER),
    "cost_per_image_usd": nullable({"type": "number", "description": "The mean cost per image of the priced calls "
                                                                     "(a float rounded to 6 places, an average: "
                                                                     "no bill); null when no call was priced."}),
    "cost_source": nullable({"type": "string", "enum": [*CostSource.values, "mixed"],
                             "description": "The cost_source of the priced calls (as on a Result), or mixed when they "
                                            "differ."}),
    "text_accuracy": nullable(NUMBER), "text_scored": INTEGER,
    "check_failure_rate": nullable(NUMBER), "checked": INTEGER,
}, description="One route over some runs (compare/benchmarks/series.py summarise): calls are the ended calls (cancelled "
               "ones left out); median_ms and p95_ms over succeeded calls; rates are shares (0-1); text_scored "
               "counts the calls whose quoted text was read back, checked those whose image checks ran "
               "(docs/checks.md).")
BENCHMARK_RUN = obj({
    "id": ID, "started_at": DATETIME, "finished_at": nullable(DATETIME),
    "status": {"type": "string", "enum": list(RunStatus.values),
               "description": "started: its batch runs; done: every call ended and its alerts were judged; "
                              "refused: no batch was made (reason says why: the budget, the call cap, a route or "
                              "prompt set gone)."},
    "trigger": {"type": "string", "enum": ["schedule", "manual", "file"],
                "description": "The schedule, a person (POST .../run or the page), or `manage.py benchmark run "
                               "FILE` (CI)."},
    "reason": nullable(STRING), "batch": nullable({**ID, "description": "Its batch (GET /api/batches/{pk})."}),
}, description="One run of a benchmark: an ordinary batch of every prompt × route × repeat.")
BENCHMARK_ALERT = obj({
    "id": ID, "route": STRING, "metric": {"type": "string", "enum": [*RULES, "image_signature"]},
    "opened_at": DATETIME, "closed_at": nullable(DATETIME), "open": BOOLEAN,
    "baseline": NUMBER, "current": NUMBER,
    "p_value": nullable({"type": "number", "description": "Mann-Whitney p; null for the image signature."}),
    "message": STRING,
}, description="A drift of one route's metric against its trailing 7 days (docs/benchmarks.md), open until the "
               "metric is back.")
BENCHMARK_FIELDS = {
    "id": ID, "name": STRING, "team": ref("TeamRef"), "routes": array(STRING),
    "prompts": nullable(array(STRING)), "prompt_set": nullable(STRING),
    "params": {"type": "object", "propertyNames": {"enum": sorted(API_PARAMS)},
               "description": "The generation parameters as sent (the fields of Params)."},
    "repeats": INTEGER, "schedule": nullable({"type": "string", "description": "5-field cron (UTC); null: by hand "
                                                                               "only."}),
    "next_run_at": nullable(DATETIME), "created_at": DATETIME,
}
BENCHMARK_SERIES_ROUTE = obj({"summary": ref("BenchmarkSummary"), "points": array(
    obj({"at": DATETIME, **BENCHMARK_SUMMARY["properties"]},
        description="One chart point: the runs started in the bucket from at (24h: an hour, 7d: 6 hours, 30d: "
                    "a day)."))})
BENCHMARK = obj({
    **BENCHMARK_FIELDS, "runs": array(ref("BenchmarkRun")),
    "series": obj({window: {"type": "object", "additionalProperties": BENCHMARK_SERIES_ROUTE,
                            "description": "By route key."} for window in WINDOWS},
                  description="Per window, per route: the window's figures and its chart points."),
    "alerts": array(ref("BenchmarkAlert")),
}, description="A benchmark with its last 100 runs, its series and its last 100 alerts.")
BENCHMARK_BODY_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
    "routes": {"type": "array", "items": STRING, "minItems": 1, "description": "Route keys (GET /api/routes)."},
    "prompts": {"type": "array", "minItems": 1, "maxItems": MAX_PROMPTS,
                "items": {"type": "string", "minLength": 1, "pattern": "\\S"},
                "description": "Its own prompts (or prompt_set)."},
    "prompt_set": {"type": "string", "description": "A prompt set's id (GET /api/prompt-sets), instead of prompts."},
    "params": ref("Params"),
    "repeats": {"type": "integer", "minimum": 1, "maximum": MAX_REPEATS, "default": 1,
                "description": "How many times each prompt runs on each route in one run."},
    "schedule": nullable({"type": "string", "description": '5-field cron in UTC ("0 */6 * * *"); null or left out: '
                                                           'run by hand only.'}),
}
BENCHMARK_REQUEST = {**obj({**BENCHMARK_BODY_FIELDS, "team": nullable(ID)}, required=["name", "routes"], closed=True,
                           description="Either prompts or prompt_set. Routes and parameters are checked as a batch's "
                                       "are (the budget only when it runs), so a benchmark that could never run is "
                                       "refused at once."),
                     "oneOf": [{"required": ["prompts"]}, {"required": ["prompt_set"]}]}
BENCHMARK_CHANGE = obj(BENCHMARK_BODY_FIELDS, required=[], closed=True,
                       description="Any of BenchmarkRequest's fields but team (a benchmark stays in its team); "
                                   "not both prompts and prompt_set.")

SCHEMAS = {
    "Error": obj({"error": STRING}), "Errors": obj({"errors": {"type": "object",
                                                              "additionalProperties": array(STRING)}}),
    "TeamRef": TEAM_REF, "Team": TEAM, "Params": PARAMS, "Image": IMAGE, "Reference": REFERENCE,
    "Rating": RATING, "Verdict": VERDICT, "Comment": COMMENT, "Review": REVIEW, "Result": RESULT,
    "Comparison": COMPARISON, "ComparisonRow": COMPARISON_ROW, "ComparisonPage": COMPARISON_PAGE,
    "ComparisonRequest": COMPARISON_REQUEST, "Route": ROUTE, "Credentials": CREDENTIALS, "Budget": BUDGET,
    "PromptSet": PROMPT_SET, "Batch": BATCH, "BatchSummary": obj({
        **BATCH_FIELDS, "prompts": INTEGER, "cells": INTEGER, "running": INTEGER,
        "status": {"type": "string", "enum": ["running", "done"]}},
        description="A batch in the list, as the batches page shows it: cells are its results, running the ones "
                    "not finished yet."), "BatchRow": BATCH_ROW, "BatchRequest": BATCH_REQUEST,
    "ShareLink": SHARE_LINK, "ShareRequest": SHARE_REQUEST, "ReviewState": REVIEW_STATE,
    "LeaderboardRow": LEADERBOARD_ROW, "Leaderboard": LEADERBOARD, "Checks": CHECKS, "Delivery": DELIVERY,
    "Webhook": WEBHOOK, "WebhookRequest": WEBHOOK_REQUEST,
    "BenchmarkRow": obj(BENCHMARK_FIELDS, description="A benchmark in the list (without runs, series and alerts)."),
    "Benchmark": BENCHMARK, "BenchmarkRun": BENCHMARK_RUN, "BenchmarkSummary": BENCHMARK_SUMMARY,
    "BenchmarkAlert": BENCHMARK_ALERT, "BenchmarkRequest": BENCHMARK_REQUEST, "BenchmarkChange": BENCHMARK_CHANGE,
}
