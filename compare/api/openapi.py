"""The OpenAPI 3.1 description of every /api endpoint: its paths, the document, and the docs page's view of it.

Served at GET /api/openapi.json and shown at /api/docs (compare/api/docs.py). Written by hand next to
the views, its schemas in compare/api/schemas.py; the enums come from the models, and tests keep it
true: it validates (tests/api/test_openapi_document.py), every /api URL of the resolver is in it,
real answers match it with no undocumented field, and schemathesis checks the live app against it
(tests/e2e/test_openapi_live.py)."""

import copy
import functools
import json

from providers.base import QUALITIES, SIZE_PRESETS

from compare.api.schemas import (
    BAD_REQUEST, BOOLEAN, DATETIME, ID, SCHEMAS, STRING, TEAM_QUERY, answer, array, json_body,
    nullable, obj, operation, path_id, query, ref,
)
from compare.models import Status
from compare.review.models import VerdictKind

# --- Paths --------------------------------------------------------------------------------------

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "description": "Send the same key again within 24 h with the same body: the first answer comes back and "
                   "nothing new starts (docs/operations.md).",
}
IDEMPOTENT = {"409": answer("The key is in use by a request still running.", ref("Error")),
              "422": answer("The key was used with another body.",
                            obj({"error": STRING, "errors": {"type": "object", "additionalProperties": array(STRING)}}))}
EXAMPLE_COMPARISON = {"prompt": "a red fox in the snow", "routes": ["sandbox:fast", "sandbox:steady"],
                      "params": {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}}


def _paths():
    comparison_id = path_id(what="A comparison id.")
    comparison_body = json_body(ref("ComparisonRequest"))
    comparison_body["content"]["application/json"]["example"] = EXAMPLE_COMPARISON
    batch_body = json_body(ref("BatchRequest"))
    batch_body["content"]["application/json"]["example"] = {
        "prompt_set": "typography", "routes": ["sandbox:fast"], "params": {"quality": "low"}}
    benchmark_id = path_id(what="A benchmark id.")
    benchmark_body = json_body(ref("BenchmarkRequest"))
    benchmark_body["content"]["application/json"]["example"] = {
        "name": "Nightly", "routes": ["sandbox:fast", "sandbox:steady"], "prompts": ["a red fox", "a blue car"],
        "params": {"quality": "low"}, "repeats": 2, "schedule": "0 */6 * * *"}
    return {
        "/api/routes": {"get": operation(
            "listRoutes", "The routes, with capabilities, price and whether your team can run them",
            {"200": answer("The routes.", obj({"routes": array(ref("Route"))}))}, "routes", [TEAM_QUERY])},
        "/api/teams": {"get": operation(
            "listTeams", "Your teams and your role in each",
            {"200": answer("Your teams.", obj({"teams": array(ref("Team"))}))}, "teams")},
        "/api/teams/{pk}/credentials": {
            "get": operation("getCredentials", "Where each credential of the team comes from (owners)",
                             {"200": answer("The listing.", ref("Credentials"))}, "teams",
                             [path_id(what="A team id.")], mutating=True),
            "put": operation("setCredentials", "Set or remove the team's own credentials (owners); all or none",
                             {"200": answer("The listing after the change.", ref("Credentials"))}, "teams",
                             [path_id(what="A team id.")],
                             json_body({"type": "object", "minProperties": 1, "additionalProperties": STRING},
                                       '{"NAME": "value"}; "" removes the team\'s value.'))},
        "/api/teams/{pk}/budget": {"put": operation(
            "setBudget", "Set the team's monthly budget (owners)", {"200": answer("The budget now.", ref("Budget"))},
            "teams", [path_id(what="A team id.")],
            json_body(obj({"monthly_usd": nullable({"type": ["string", "number"]})}, closed=True),
                      '{"monthly_usd": "12.50"}; null removes the budget.'))},
        "/api/teams/{pk}/webhooks": {
            "get": operation("listWebhooks", "The team's webhooks with their recent deliveries (owners)",
                             {"200": answer("The webhooks and the events one may listen to.", obj({
                                 "team": ref("TeamRef"),
                                 "events": array(obj({"event": STRING, "meaning": STRING, "emitted": BOOLEAN})),
                                 "webhooks": array(ref("Webhook"))}))}, "teams",
                             [path_id(what="A team id.")], mutating=True),
            "post": operation("createWebhook", "Add a webhook (owners); its secret is shown this once",
                              {"201": answer("The webhook, with its secret.", ref("Webhook"))}, "teams",
                              [path_id(what="A team id.")], json_body(ref("WebhookRequest")))},
        "/api/teams/{pk}/webhooks/{hook}": {
            "get": operation("getWebhook", "A webhook with its last 50 deliveries (owners)",
                             {"200": answer("The webhook.", ref("Webhook"))}, "teams",
                             [path_id(what="A team id."), path_id("hook", "A webhook id.")], mutating=True),
            "delete": operation("deleteWebhook", "Remove a webhook (owners)", {"204": answer("Removed.")}, "teams",
                                [path_id(what="A team id."), path_id("hook", "A webhook id.")], mutating=True)},
        "/api/comparisons": {
            "get": operation("listComparisons", "Your teams' comparisons, newest first, a page at a time",
                             {"200": answer("One page.", ref("ComparisonPage"))}, "comparisons", [
                                 TEAM_QUERY, query("q", STRING, "Words in the prompt."),
                                 query("route", STRING, "Only those that ran this route (blind ones you have not "
                                                        "judged are left out: the filter would name them)."),
                                 query("status", {"type": "string", "enum": ["running", "done", *Status.values]},
                                       "running, done, or comparisons with a result in this status."),
                                 query("page", {"type": "integer", "minimum": 1}, "Page number.")]),
            "post": operation("createComparison", "Start a comparison: one call per route, checked like the form",
                              {"201": answer("Started.", ref("Comparison")), **IDEMPOTENT}, "comparisons",
                              [IDEMPOTENCY_KEY], comparison_body,
                              description="Refused with 400 when a route cannot take the parameters, a credential "
                                          "is missing or the team's budget would be passed.")},
        "/api/comparisons/{pk}": {"get": operation(
            "getComparison", "A comparison with its results and review, as you may see them",
            {"200": answer("The comparison.", ref("Comparison"))}, "comparisons", [comparison_id])},
        "/api/comparisons/{pk}/cancel": {"post": operation(
            "cancelComparison", "Cancel the routes still running (members)",
            {"200": answer("The comparison, with cancel counts.", ref("Comparison"))}, "comparisons",
            [comparison_id], mutating=True)},
        "/api/comparisons/{pk}/rerun": {"post": operation(
            "rerunComparison", "Run it again: same prompt, routes, parameters and inputs (members)",
            {"201": answer("The new comparison.", ref("Comparison")), "400": BAD_REQUEST}, "comparisons",
            [comparison_id], mutating=True)},
        "/api/comparisons/{pk}/review": {"get": operation(
            "getReview", "The review: verdicts, comments, thumbs (blind until your verdict)",
            {"200": answer("The review.", ref("ReviewState"))}, "review", [comparison_id])},
        "/api/comparisons/{pk}/verdict": {"post": operation(
            "giveVerdict", "Give your verdict (again: replaces it); on a blind comparison it reveals the routes",
            {"200": answer("The comparison as you now see it.", ref("Comparison"))}, "review", [comparison_id],
            json_body(obj({"winner": {"oneOf": [ID, {"type": "string", "enum": [VerdictKind.TIE,
                                                                                 VerdictKind.ALL_BAD]}],
                                      "description": "A succeeded result's id, \"tie\" or \"all_bad\"."}},
                          closed=True)))},
        "/api/comparisons/{pk}/comments": {"post": operation(
            "addComment", "Comment on a comparison (plain text)",
            {"201": answer("The comment.", obj({"id": ID, "user": STRING, "text": STRING, "created_at": DATETIME}))},
            "review", [comparison_id],
            json_body(obj({"text": {"type": "string", "minLength": 1, "maxLength": 4000}}, closed=True)))},
        "/api/comparisons/{pk}/review-mode": {"put": operation(
            "setReviewMode", "Switch blind mode and holding images for the whole team (members)",
            {"200": answer("The review after the change.", ref("ReviewState"))}, "review", [comparison_id],
            json_body(obj({"blind": BOOLEAN, "hold_images_until_done": BOOLEAN}, closed=True)))},
        "/api/results/{pk}/rating": {"post": operation(
            "rateResult", "Your thumb on a finished result (null takes it back)",
            {"200": answer("The result as you may see it.", ref("Result"))}, "review",
            [path_id(what="A result id.")],
            json_body(obj({"thumb": {"type": ["string", "null"], "enum": ["up", "down", None]}}, closed=True)))},
        "/api/comparisons/{pk}/share": {"post": operation(
            "createShareLink", "Make a share or vote link (members; one naming routes only once you see them)",
            {"201": answer("The link.", ref("ShareLink")),
             "403": answer("A viewer (error), or a link that would name routes still blind to you (errors.blind).",
                           {"oneOf": [ref("Error"), ref("Errors")]})}, "sharing", [comparison_id],
            {"required": False, "content": {"application/json": {"schema": nullable(ref("ShareRequest"))}}})},
        "/api/share-links/{pk}": {
            "get": operation("getShareLink", "A share link of your teams", {"200": answer("The link.", ref("ShareLink"))},
                             "sharing", [path_id(what="A share link id.")]),
            "delete": operation("revokeShareLink", "Revoke a share link (members)", {"204": answer("Revoked.")},
                                "sharing", [path_id(what="A share link id.")], mutating=True)},
        "/api/leaderboard": {"get": operation(
            "getLeaderboard", "The leaderboard page's rows, with its filters",
            {"200": answer("Routes ranked by the lower end of their score band.", ref("Leaderboard")),
             "400": BAD_REQUEST}, "leaderboard", [
                TEAM_QUERY, query("from", {"type": "string", "format": "date"}, "First day (YYYY-MM-DD)."),
                query("to", {"type": "string", "format": "date"}, "Last day (YYYY-MM-DD)."),
                query("quality", {"type": "string", "enum": list(QUALITIES)}, "Only this quality."),
                query("size", STRING, f"Only this size: WxH or a preset ({', '.join(SIZE_PRESETS)}).")])},
        "/api/prompt-sets": {"get": operation(
            "listPromptSets", "The built-in prompt sets and the team's own",
            {"200": answer("The sets.", obj({"prompt_sets": array(ref("PromptSet"))}))}, "batches", [TEAM_QUERY])},
        "/api/prompt-sets/{pk}": {"delete": operation(
            "deletePromptSet", "Delete a team's own prompt set with its prompts (members)",
            {"204": answer("Deleted (batches already run keep their comparisons).")}, "batches",
            [path_id(what='A team\'s set: the N of its id "set-N".')], mutating=True)},
        "/api/prompts": {"post": operation(
            "savePrompt", "Save a prompt into a set of the team (made if new) or its default set (members)",
            {"201": answer("The prompt and its set.", obj({"prompt": obj({"id": ID, "title": STRING, "text": STRING}),
                                                          "prompt_set": ref("PromptSet")}))}, "batches",
            [TEAM_QUERY], json_body(obj({"text": {"type": "string", "minLength": 1, "pattern": "\\S"},
                                         "set": {"type": "string", "description": "The set's name (default: the "
                                                                                  "team's default set)."},
                                         "title": STRING}, required=["text"], closed=True)))},
        "/api/prompts/{pk}": {"delete": operation(
            "deletePrompt", "Delete a saved prompt (members)", {"204": answer("Deleted.")}, "batches",
            [path_id(what="A saved prompt's id.")], mutating=True)},
        "/api/batches": {
            "get": operation("listBatches", "The team's batches, newest first (200 at most)",
                             {"200": answer("The batches, without their matrix.",
                                            obj({"batches": array(ref("BatchSummary"))}))}, "batches", [TEAM_QUERY]),
            "post": operation("createBatch", "Run a prompt set: one comparison per prompt, checked like a submit",
                              {"201": answer("The batch.", ref("Batch")), **IDEMPOTENT}, "batches",
                              [IDEMPOTENCY_KEY], batch_body)},
        "/api/batches/{pk}": {"get": operation(
            "getBatch", "A batch with its matrix", {"200": answer("The batch.", ref("Batch"))}, "batches",
            [path_id(what="A batch id.")])},
        "/api/batches/{pk}/cancel": {"post": operation(
            "cancelBatch", "Cancel every comparison of the batch still running (members)",
            {"200": answer("The batch, with cancel counts.", ref("Batch"))}, "batches",
            [path_id(what="A batch id.")], mutating=True)},
        "/api/benchmarks": {
            "get": operation("listBenchmarks", "The team's benchmarks, by name",
                             {"200": answer("The benchmarks, without runs, series and alerts.",
                                            obj({"benchmarks": array(ref("BenchmarkRow"))}))}, "benchmarks",
                             [TEAM_QUERY]),
            "post": operation("createBenchmark",
                              "Make a benchmark: routes × prompts run by schedule or by hand (members)",
                              {"201": answer("The benchmark.", ref("Benchmark")), **IDEMPOTENT}, "benchmarks",
                              [IDEMPOTENCY_KEY], benchmark_body,
                              description="Refused with 400 when a field is bad, the team is not yours, or its "
                                          "routes cannot take the parameters.")},
        "/api/benchmarks/{pk}": {
            "get": operation("getBenchmark", "A benchmark with its runs, per-route series (24h, 7d, 30d) and alerts",
                             {"200": answer("The benchmark.", ref("Benchmark"))}, "benchmarks", [benchmark_id]),
            "patch": operation("changeBenchmark", "Change any of its fields but team (members)",
                               {"200": answer("The benchmark after the change.", ref("Benchmark"))}, "benchmarks",
                               [benchmark_id], json_body(ref("BenchmarkChange"))),
            "delete": operation("deleteBenchmark", "Delete a benchmark with its runs and alerts (members)",
                                {"204": answer("Deleted (its batches stay in the history).")}, "benchmarks",
                                [benchmark_id], mutating=True)},
        "/api/benchmarks/{pk}/run": {"post": operation(
            "runBenchmark", "Run it now: one batch, checked against the team's budget and call cap (members)",
            {"201": answer("The run: started with its batch, or refused with the reason (it is kept).",
                           ref("BenchmarkRun")),
             "400": answer("The Idempotency-Key is malformed: errors names it.", ref("Errors")), **IDEMPOTENT},
            "benchmarks", [benchmark_id, IDEMPOTENCY_KEY], mutating=True)},
        "/api/openapi.json": {"get": operation(
            "getOpenApi", "This document", {"200": answer("The OpenAPI document.", {"type": "object"})}, "meta")},
    }


@functools.cache
def _document():
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Image Provider Compare API",
            "version": "1",
            "description": "One prompt, many image routes, side by side. Every endpoint answers JSON and takes an "
                           "API token (Authorization: Bearer TOKEN; `manage.py api_token USERNAME` or the API tokens "
                           "page) or the browser session (writes then need the CSRF token). Everything is scoped to "
                           "your teams: another team's object answers 404. Blind comparisons name no route to you "
                           "until your own verdict, on every endpoint.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "tags": [{"name": name} for name in ("routes", "teams", "comparisons", "review", "sharing", "leaderboard",
                                              "batches", "benchmarks", "meta")],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A personal API token."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid",
                            "description": "The browser session (writes also need X-CSRFToken)."},
            },
        },
    }


def document():
    """The document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())


def _schema_name(schema):
    """The component a schema refers to, or its JSON (for the page)."""
    if schema is None:
        return None, None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1], None
    return None, json.dumps(schema, indent=1)


def page_context():
    """The document laid out for templates/compare/api_docs.html."""
    found = document()
    endpoints = []
    for url, methods in found["paths"].items():
        for method, op in methods.items():
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
            body_ref, body_json = _schema_name(body.get("schema"))
            answers = []
            for status, given in sorted(op["responses"].items()):
                schema = given.get("content", {}).get("application/json", {}).get("schema")
                schema_ref, schema_json = _schema_name(schema)
                answers.append({"status": status, "description": given["description"], "ref": schema_ref,
                                "json": schema_json})
            endpoints.append({
                "id": op["operationId"], "method": method.upper(), "url": url, "summary": op["summary"],
                "description": op.get("description", ""), "tag": op["tags"][0],
                "parameters": [{**p, "schema_json": json.dumps(p["schema"])} for p in op["parameters"]],
                "body_ref": body_ref, "body_json": body_json,
                "body_example": json.dumps(body["example"], indent=1) if "example" in body else None,
                "answers": answers,
            })
    schemas = [{"name": name, "description": schema.get("description", ""), "json": json.dumps(schema, indent=1)}
               for name, schema in found["components"]["schemas"].items()]
    return {"info": found["info"], "endpoints": endpoints, "schemas": schemas}
