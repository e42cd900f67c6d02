"""Alice's team with one of everything, and a URL of hers for every pattern of the app: what the
isolation tests (tests/security/test_isolation.py) and the malformed-input tests walk."""

import re
import secrets

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from compare.engine import execution
from compare.models import Comparison
from compare.sharing.models import ShareLink
from compare.teams.models import ApiToken, Invite

from tests.helpers import image_bytes

SECRET = "alice's secret fox"
# Pages that are not about one object: bob and strangers may open them, but see nothing of alice's.
LISTS = {"new", "history", "routes", "tokens", "team", "team-links", "leaderboard", "leaderboard-csv",
         "history-csv", "batches", "batch-create", "benchmarks", "api:benchmarks", "prompts", "prompt-save",
         "team-switch", "team-create", "token-create", "review-queue", "api:routes", "api:teams", "api:comparisons",
         "api:prompt-sets", "api:batches", "api:leaderboard", "api:openapi", "api:docs", "api:prompts"}
# Public by design, reached with a token: tried with a token that does not exist (alice's real
# tokens are what make them public; their lifecycle is tested in test_sharing.py and test_teams.py).
TOKENS = {"share", "share-preview", "share-comparison", "share-comparison-preview", "share-vote", "share-image",
          "share-thumbnail", "invite", "reference-public"}
# Outside this app's scoping (Django's own views).
NOT_OURS = {"login", "logout"}
# For operators, about no team (docs/operations.md): /healthz is public by design and names no
# object; /metrics answers a METRICS_TOKEN or a staff session, and names no team. Tried like the
# others: they must show nothing of alice's.
OPERATIONS = {"healthz", "metrics"}


# The URL namespaces of our apps: compare, its feature apps and the API.
OURS = {"api"} | {config.label for config in apps.get_app_configs() if config.name.split(".")[0] == "compare"}


def app_patterns():
    """(name, route) of every URL of compare/, from the resolver."""
    def walk(patterns, prefix, namespace):
        for item in patterns:
            if isinstance(item, URLResolver):
                inner = item.namespace or namespace
                yield from walk(item.url_patterns, prefix + str(item.pattern), inner)
            elif isinstance(item, URLPattern) and namespace in OURS and item.name:
                name = f"api:{item.name}" if namespace == "api" else item.name
                yield name, prefix + str(item.pattern)
    return sorted(set(walk(get_resolver().url_patterns, "/", "")))


def one_of_everything(alice):
    """Alice's team with one of everything: a finished comparison with an image and a reference,
    a share link, an invite, an API token and a saved prompt."""
    client = Client()
    client.force_login(alice)
    client.post("/", {"prompt": SECRET, "routes": ["sandbox:fast", "sandbox:steady"], "size": "square",
                      "quality": "low", "output_format": "png", "n": "1",
                      "reference_images": [SimpleUploadedFile("r.png", image_bytes(64, 64))]})
    comparison = Comparison.objects.get()
    for result in comparison.results.all():
        execution.execute_result(result.pk)
    team = comparison.team
    client.post(f"/comparisons/{comparison.pk}/share", {"labels": "names", "kind": "view", "show_costs": "1"})
    client.post(f"/teams/{team.pk}/invites", {"role": "member"})
    ApiToken.issue(alice)
    objects = {"comparison": comparison, "team": team, "user": alice,
               "result": comparison.results.first(), "images": list(
                   img for r in comparison.results.all() for img in r.images.all()),
               "reference": comparison.references.get(), "link": ShareLink.objects.get(),
               "invite": Invite.objects.get(), "token": ApiToken.objects.get(user=alice)}
    objects.update(extra_objects(client, team, alice))
    return objects


def extra_objects(client, team, alice):
    """Alice's saved prompt, prompt set and batch (issue 7), when those exist."""
    found = {}
    try:
        from compare.batches.models import Batch, Prompt, PromptSet
    except ImportError:
        return found
    prompt_set = PromptSet.objects.create(team=team, name=f"{SECRET} set")
    found["prompt"] = Prompt.objects.create(team=team, prompt_set=prompt_set, text=f"{SECRET} prompt")
    found["prompt_set"] = prompt_set
    found["batch"] = Batch.objects.create(team=team, name=f"{SECRET} batch", created_by=alice)
    from compare.teams.models import TeamPrice

    found["price"] = TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image="0.01", entered_by=alice)
    from compare.benchmarks.models import Benchmark

    found["benchmark"] = Benchmark.objects.create(team=team, name=f"{SECRET} benchmark", created_by=alice,
                                                  routes=["sandbox:fast"], prompts=[f"{SECRET} prompt"])
    from compare.teams.crypto import encrypt
    from compare.notifications.models import Webhook

    found["webhook"] = Webhook.objects.create(team=team, url=f"https://example.org/{SECRET.replace(' ', '-')}",
                                              events=["comparison.finished"], secret_ciphertext=encrypt(SECRET),
                                              secret_last4="xxxx", created_by=alice)
    return found


def url_for(name, route, o):
    """A URL of alice's for the pattern, or None where the pattern is not about one object."""
    c, images = o["comparison"], o["images"]
    by_name = {
        "detail": c.pk, "summary": c.pk, "events": c.pk, "rerun": c.pk, "cancel": c.pk, "verdict": c.pk, "comment": c.pk,
        "review-mode": c.pk, "review": c.pk, "share-create": c.pk, "export": c.pk, "changes": c.pk,
        "api:comparison": c.pk, "api:cancel": c.pk, "api:rerun": c.pk, "api:share": c.pk,
        "api:review": c.pk, "api:verdict": c.pk, "api:comments": c.pk, "api:review-mode": c.pk,
        "result-card": o["result"].pk, "result-checks": o["result"].pk, "rate": o["result"].pk, "api:rate": o["result"].pk,
        "image": images[0].pk, "thumbnail": images[0].pk, "reference": o["reference"].pk,
        "share-revoke": o["link"].pk, "api:share-link": o["link"].pk, "token-revoke": o["token"].pk,
        "team-detail": o["team"].pk, "team-add-member": o["team"].pk, "team-invite": o["team"].pk,
        "team-budget": o["team"].pk, "api:team-budget": o["team"].pk, "team-price": o["team"].pk,
        "team-leave": o["team"].pk, "team-credentials": o["team"].pk, "team-credential-test": o["team"].pk,
        "api:team-credentials": o["team"].pk, "api:team-webhooks": o["team"].pk,
        "team-notifications": o["team"].pk, "team-webhook-create": o["team"].pk,
        "team-notification-emails": o["team"].pk,
        "batch": o.get("batch") and o["batch"].pk, "batch-csv": o.get("batch") and o["batch"].pk,
        "batch-cancel": o.get("batch") and o["batch"].pk, "batch-events": o.get("batch") and o["batch"].pk,
        "api:batch": o.get("batch") and o["batch"].pk, "api:batch-cancel": o.get("batch") and o["batch"].pk,
        "prompt-delete": o.get("prompt") and o["prompt"].pk,
        "prompt-set-delete": o.get("prompt_set") and o["prompt_set"].pk,
        "api:prompt": o.get("prompt") and o["prompt"].pk, "api:prompt-set": o.get("prompt_set") and o["prompt_set"].pk,
        "benchmark": o.get("benchmark") and o["benchmark"].pk, "benchmark-run": o.get("benchmark") and o["benchmark"].pk,
        "api:benchmark": o.get("benchmark") and o["benchmark"].pk,
        "api:benchmark-run": o.get("benchmark") and o["benchmark"].pk,
    }
    if name in ("side-by-side", "side-by-side-diff"):
        return f"/comparisons/{c.pk}/side-by-side" + ("/diff.png" if name.endswith("diff") else "") + \
            f"?a={images[0].pk}&b={images[1].pk}"
    if name == "team-remove-member":
        return f"/teams/{o['team'].pk}/members/{o['user'].pk}/remove"
    if name == "invite-decline":
        return f"/invitations/{o['invite'].pk}/decline"
    if name in ("api:team-webhook", "team-webhook-delete", "team-webhook-test"):
        return re.sub(r"<int:hook>", str(o["webhook"].pk), re.sub(r"<int:pk>", str(o["team"].pk), route))
    if name == "team-price-delete":
        return f"/teams/{o['team'].pk}/prices/{o['price'].pk}/delete"
    if name == "team-revoke-invite":
        return f"/teams/{o['team'].pk}/invites/{o['invite'].pk}/revoke"
    if name == "prompt-fill":
        return f"/prompts/team-{o['prompt'].pk}/fill" if "prompt" in o else None
    if name in by_name:
        return re.sub(r"<int:pk>", str(by_name[name]), route)
    if name in TOKENS:
        fake = secrets.token_urlsafe(24)
        return re.sub(r"<int:pk>", str(c.pk if "comparison" in name or name == "share-vote" else images[0].pk),
                      re.sub(r"<str:token>", fake, route))
    return None
