"""Notifications: the events a team's webhooks and e-mails hear of, and how each is said, signed, sent.

What each delivery says, how it is signed and sent, and the retries (docs/notifications.md).

- An event is emitted at most once (NotificationEvent.key names it): ``comparison.finished`` when
  a comparison's last result ends, ``batch.finished`` when a batch's last comparison does,
  ``budget.threshold`` at 80 % and at 100 % of a team's monthly budget (each once a month).
- What an event says of a comparison is what compare/review/visibility.py lets a webhook see
  (Visibility.for_webhook): a blind comparison names no route, latency or cost.
- A webhook delivery is a POST through the providers' outbound policy (providers/outbound.py: no
  private or plain-http target unless ALLOW_PRIVATE_PROVIDER_URLS), signed with the webhook's
  secret (X-Signature-256: sha256=HMAC-SHA256 of the raw body), tried up to WEBHOOK_MAX_ATTEMPTS
  times with a doubling wait, every attempt recorded. The Celery tasks are here too (compare/tasks.py
  imports them so the workers know them)."""

import hashlib
import hmac
import json
import logging
import secrets
import statistics
import time
from datetime import timedelta
from decimal import Decimal

import httpcore
import httpx
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from providers.outbound import DestinationRefusedError, OutboundTransport, Policy, origin

from compare.batches.models import BatchItem
from compare.models import TERMINAL, Comparison, Result, Status
from compare.notifications.models import (
    EVENTS, TEST_EVENT, Delivery, DeliveryAttempt, DeliveryStatus, EmailSubscription,
    NotificationEvent, Webhook, WebhookFormat,
)
from compare.review.visibility import Visibility
from compare.teams.crypto import decrypt, encrypt
from compare.teams.models import Team

log = logging.getLogger(__name__)
EMITTED = ("comparison.finished", "batch.finished", "budget.threshold", "benchmark.run_finished",
           "benchmark.regressed")  # benchmark.*: compare/benchmarks/runs.py
EVENTS_INFO = [{"event": kind, "meaning": meaning, "emitted": kind in EMITTED} for kind, meaning in EVENTS.items()]
THRESHOLDS = (80, 100)  # percent of the monthly budget
USER_AGENT = "image-provider-compare-webhooks"


# --- webhooks: creating and checking --------------------------------------------------------


class WebhookRefused(ValueError):
    """A webhook that will not be saved; ``errors`` is {field: [message]}."""

    def __init__(self, errors):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def policy():
    """Where deliveries may go: the providers' rule (ALLOW_PRIVATE_PROVIDER_URLS), no trusted origin."""
    return Policy(allow_private=settings.ALLOW_PRIVATE_PROVIDER_URLS)


def check_url(url):
    """The early check with a clear message; the same rule is enforced again at connect time on
    every attempt, on the address actually connected to (OutboundTransport)."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookRefused({"url": ["url is the https address to POST events to."]})
    url = url.strip()
    if len(url) > 2000:
        raise WebhookRefused({"url": ["url is longer than 2000 characters."]})
    rule = policy()
    try:
        rule.check_url(url)
        _, host, port = origin(url)
        rule.addresses(host, port)
    except DestinationRefusedError as exc:
        raise WebhookRefused({"url": [exc.message]}) from None
    except httpcore.ConnectError as exc:
        raise WebhookRefused({"url": [str(exc) or "The host does not resolve."]}) from None
    return url


def create_webhook(team, user, *, url, events, secret=None, format=WebhookFormat.JSON):
    """Check and save a webhook; (webhook, its secret in full: shown this once). WebhookRefused
    names each bad field."""
    errors = {}
    try:
        url = check_url(url)
    except WebhookRefused as exc:
        errors.update(exc.errors)
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors["events"] = [f"events is a list of one or more of: {', '.join(EVENTS)}."]
    elif unknown := [e for e in events if e not in EVENTS]:
        errors["events"] = [f"Unknown event(s) {', '.join(unknown)[:200]}; known: {', '.join(EVENTS)}."]
    if format not in WebhookFormat.values:
        errors["format"] = ['format is "json" or "slack".']
    if secret in (None, ""):
        secret = "whsec_" + secrets.token_urlsafe(32)
    elif not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        errors["secret"] = ["secret is a string of 16 to 200 characters (leave it out to get a generated one)."]
    if errors:
        raise WebhookRefused(errors)
    webhook = Webhook.objects.create(team=team, url=url, events=list(dict.fromkeys(events)), format=format,
                                     secret_ciphertext=encrypt(secret), secret_last4=secret[-4:],
                                     created_by=user if user is not None and user.is_authenticated else None)
    return webhook, secret


def webhook_dict(webhook, recent=5):
    """What the API and the page show of a webhook: never its secret, only the last four."""
    deliveries = webhook.deliveries.select_related("event").order_by("-created_at", "-id")[:recent]
    return {"id": webhook.pk, "url": webhook.url, "events": webhook.events, "format": webhook.format,
            "secret_last4": webhook.secret_last4, "created_at": webhook.created_at,
            "recent_deliveries": [delivery_dict(d) for d in deliveries]}


def delivery_dict(delivery):
    return {"id": str(delivery.uuid), "event": delivery.event.kind, "event_id": str(delivery.event.uuid),
            "status": delivery.status, "attempts": delivery.attempts, "response_code": delivery.response_code,
            "created_at": delivery.created_at, "finished_at": delivery.finished_at,
            "next_attempt_at": delivery.next_attempt_at}


# --- what an event says -----------------------------------------------------------------------


def permalink(path):
    """An absolute address from SITE_URL (the path alone when SITE_URL is not set)."""
    return settings.SITE_URL.rstrip("/") + path


def _usd(value):
    return None if value is None else str(Decimal(value).normalize())


def _ms(value):
    return None if value is None else round(value, 1)


def comparison_data(comparison):
    """A finished comparison as a webhook may see it: per route its status, latency and cost, or,
    for a blind comparison, only how many calls ended how."""
    results = list(comparison.results.all())
    seen = Visibility.for_webhook(comparison)
    counts = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    routes = None
    if seen.route_names:
        routes = [{"route": r.route_key, "label": r.route_label, "status": r.status,
                   "error_code": r.error_code or None,
                   "latency_ms": _ms(r.latency_ms) if seen.latency else None,
                   "cost_usd": _usd(r.cost_usd) if seen.costs else None,
                   "cost_source": r.cost_source if seen.costs else None,
                   "cost_label": r.cost_word if seen.costs else None,
                   "estimated_cost_usd": _usd(r.estimated_cost_usd) if seen.costs else None,
                   "estimate_source": (r.estimate_source or None) if seen.costs else None}
                  for r in sorted(results, key=lambda r: r.position)]
    return {"comparison": {"id": comparison.pk, "url": permalink(comparison.get_absolute_url()),
                           "prompt": comparison.prompt, "blind": comparison.blind,
                           "created_at": comparison.created_at.isoformat()},
            "team": {"id": comparison.team_id, "name": comparison.team.name},
            "calls": len(results), "statuses": counts,
            "routes_hidden": not seen.route_names, "routes": routes}


def batch_data(batch):
    """A finished batch: per route (a column) its calls, successes, median latency and costs,
    from the comparisons a webhook may see by name (none of a blind batch)."""
    columns = {key: [] for key in batch.route_keys}
    hidden = calls = 0
    counts = {}
    for item in batch.items.select_related("comparison").prefetch_related("comparison__results"):
        results = list(item.comparison.results.all())
        calls += len(results)
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        if Visibility.for_webhook(item.comparison).route_names:
            for result in results:
                columns.setdefault(result.route_key, []).append(result)
        else:
            hidden += 1
    routes = None
    if hidden == 0:
        routes = []
        for key, results in columns.items():
            latencies = [r.latency_ms for r in results if r.status == Status.SUCCEEDED and r.latency_ms is not None]
            by_source = {}  # billed | usage | team_price | estimated, as the API names them
            for r in results:
                if r.cost_is_known:
                    by_source[r.cost_source] = by_source.get(r.cost_source, 0) + r.cost_usd
            routes.append({"route": key, "calls": len(results),
                           "succeeded": sum(r.status == Status.SUCCEEDED for r in results),
                           "median_latency_ms": _ms(statistics.median(latencies)) if latencies else None,
                           "cost_usd_by_source": {source: _usd(usd) for source, usd in by_source.items()},
                           "unknown_cost_calls": sum(r.cost_source == "unknown" for r in results)})
    return {"batch": {"id": batch.pk, "name": batch.name, "url": permalink(batch.get_absolute_url()),
                      "prompt_set": batch.source_name, "blind": batch.blind,
                      "comparisons": batch.items.count(), "created_at": batch.created_at.isoformat()},
            "team": {"id": batch.team_id, "name": batch.team.name},
            "calls": calls, "statuses": counts, "routes_hidden": routes is None, "routes": routes}


def budget_data(team, state, percent, month):
    return {"team": {"id": team.pk, "name": team.name},
            "team_url": permalink(reverse("teams:team-detail", args=[team.pk])),
            "threshold_percent": percent, "month": month,
            **state.as_dict(), "counted_usd": f"{state.spent + state.reserved:.4f}"}  # as the budget API shows them


# --- emitting ---------------------------------------------------------------------------------


def emit(team, kind, key, data, only=None):
    """Record the event ``key`` once and queue a delivery to each of the team's webhooks that
    wants it (``only``: just that webhook) and the e-mails; None if it was emitted before, or if
    nobody listens to it (then nothing is recorded)."""
    hooks = [only] if only is not None else [h for h in team.webhooks.all() if h.wants(kind)]
    mailing = only is None and EmailSubscription.objects.filter(team=team, event=kind).exists()
    if not hooks and not mailing:
        return None
    try:
        with transaction.atomic():
            event = NotificationEvent.objects.create(team=team, kind=kind, key=key, data=data)
    except IntegrityError:
        return None  # emitted already (another worker saw the same last result end)
    deliveries = [Delivery.objects.create(webhook=hook, event=event, next_attempt_at=timezone.now())
                  for hook in hooks]

    def send():
        for delivery in deliveries:
            deliver_webhook.apply_async((delivery.pk,))
        if mailing:
            send_event_email.apply_async((event.pk,))

    if deliveries or mailing:
        transaction.on_commit(send, robust=True)  # a broker outage: resend_due sends them later
    return event


def results_ended(comparison_id):
    """Some results of the comparison ended: the budget thresholds, and if it was the last,
    ``comparison.finished`` (and ``batch.finished`` if it ended its batch)."""
    comparison = Comparison.objects.select_related("team").filter(pk=comparison_id).first()
    if comparison is None:
        return
    check_budget(comparison.team)
    if comparison.results.exclude(status__in=TERMINAL).exists():
        return
    emit(comparison.team, "comparison.finished", f"comparison.finished:{comparison.pk}", comparison_data(comparison))
    item = BatchItem.objects.select_related("batch__team").filter(comparison=comparison).first()
    if item is not None and not Result.objects.filter(comparison__batch_item__batch_id=item.batch_id).exclude(
            status__in=TERMINAL).exists():
        emit(item.batch.team, "batch.finished", f"batch.finished:{item.batch_id}", batch_data(item.batch))


def check_budget(team):
    """``budget.threshold`` once a month for each of 80 % and 100 % of the monthly budget that
    what counts against it (spent and reserved, as Team.check_budget counts) has reached."""
    if not team.monthly_budget_usd:
        return  # no budget (or $0, which nothing may spend)
    state = team.budget_state()
    counted = state.spent + state.reserved
    month = timezone.now().strftime("%Y-%m")
    for percent in THRESHOLDS:
        if counted >= team.monthly_budget_usd * percent / 100:
            emit(team, "budget.threshold", f"budget.threshold:{team.pk}:{month}:{percent}",
                 budget_data(team, state, percent, month))


def check_budget_of(team_id):
    team = Team.objects.filter(pk=team_id).first()
    if team is not None:
        check_budget(team)


def send_test(webhook, user):
    """A ``webhook.test`` event for this webhook alone, sent as the others are."""
    data = {"team": {"id": webhook.team_id, "name": webhook.team.name},
            "webhook": {"id": webhook.pk, "url": webhook.url},
            "asked_by": user.get_username() if user is not None else None,
            "message": "A test delivery asked for on the team's notifications page."}
    return emit(webhook.team, TEST_EVENT, f"{TEST_EVENT}:{secrets.token_hex(16)}", data, only=webhook)


# --- delivering -------------------------------------------------------------------------------


def body_for(delivery, sent_at):
    """The raw body of one attempt: the event's JSON envelope, or Slack's {"text": ...}."""
    event = delivery.event
    if delivery.webhook.format == WebhookFormat.SLACK:
        payload = {"text": slack_text(event)}
    else:
        payload = {"event": event.kind, "id": str(event.uuid), "created_at": event.created_at.isoformat(),
                   "delivery_id": str(delivery.uuid), "sent_at": sent_at, "data": event.data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret, body):
    """X-Signature-256's value: HMAC-SHA256 of the raw body with the webhook's secret, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(delivery, body, secret, sent_at):
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Event": delivery.event.kind,
            "X-Event-Id": str(delivery.event.uuid), "X-Delivery-Id": str(delivery.uuid),
            "X-Timestamp": str(sent_at), "X-Signature-256": sign(secret, body)}


def http_client():
    """The client for webhook deliveries: every request and connection checked by the outbound
    policy, no redirects followed, WEBHOOK_TIMEOUT_SECONDS at most."""
    return httpx.Client(transport=OutboundTransport(policy()), follow_redirects=False,
                        timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS))


def backoff(number):
    """Seconds to wait after attempt ``number`` failed."""
    return settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (number - 1)


def attempt(delivery_id, client=None):
    """POST the delivery once and record the attempt. Returns the seconds to wait before the
    next attempt, or None when there is none (delivered, out of attempts, refused, or another
    attempt of it is under way)."""
    delivery = Delivery.objects.select_related("webhook", "event").filter(
        pk=delivery_id, status=DeliveryStatus.PENDING).first()
    if delivery is None:
        return None
    number = delivery.attempts + 1
    claimed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING,
                                      attempts=delivery.attempts).update(
        attempts=F("attempts") + 1,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + backoff(number)))
    if not claimed:
        return None  # a duplicate task message: the other one sends it
    delivery.attempts = number
    secret = decrypt(delivery.webhook.secret_ciphertext)
    sent_at = int(time.time())
    body = body_for(delivery, sent_at)
    code, error, final = None, "", False
    began = time.perf_counter()
    try:
        with (client or http_client()) as http:
            response = http.post(delivery.webhook.url, content=body, headers=headers_for(delivery, body, secret, sent_at))
        code = response.status_code
        if not 200 <= code < 300:
            error = f"The receiver answered {code}" + (" (redirects are not followed)." if 300 <= code < 400 else ".")
    except DestinationRefusedError as exc:
        error, final = exc.message[:300], True  # the outbound policy refuses it: no retry changes that
    except httpx.HTTPError as exc:
        error = f"No answer: {type(exc).__name__}."
    duration = (time.perf_counter() - began) * 1000
    DeliveryAttempt.objects.create(delivery=delivery, number=number, response_code=code, error=error,
                                   duration_ms=duration)
    now = timezone.now()
    if not error:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED, response_code=code,
                                                       finished_at=now, next_attempt_at=None)
        return None
    if final or number >= settings.WEBHOOK_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, response_code=code,
                                                       finished_at=now, next_attempt_at=None)
        log.warning("webhook %s: delivery %s failed after %s attempt(s): %s", delivery.webhook_id, delivery.uuid,
                    number, error)
        return None
    wait = backoff(number)
    Delivery.objects.filter(pk=delivery.pk).update(response_code=code, next_attempt_at=now + timedelta(seconds=wait))
    return wait


# Named as before the apps (messages queued then still find it).
@shared_task(name="compare.notifications.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id):
    """One attempt of a webhook delivery; the next one is scheduled with its backoff."""
    wait = attempt(delivery_id)
    if wait is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=wait)


def resend_due():
    """Deliveries still pending well past their due time (their task was lost with a broker or a
    worker): sent again. The claim in ``attempt`` makes a duplicate harmless. Returns how many."""
    late = timezone.now() - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    due = list(Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=late)
               .values_list("pk", flat=True)[:500])
    for pk in due:
        deliver_webhook.apply_async((pk,))
    return len(due)


# --- e-mail -----------------------------------------------------------------------------------


def recipients(event):
    """The e-mail addresses of the team's members an owner chose for this event."""
    rows = EmailSubscription.objects.filter(team_id=event.team_id, event=event.kind,
                                            user__memberships__team_id=event.team_id).exclude(user__email="")
    return sorted(set(rows.values_list("user__email", flat=True)))


def email_subject(event):
    return f"[{event.team.name}] {summary(event)}"[:200]


@shared_task(name="compare.notifications.send_event_email", ignore_result=True, acks_late=True)
def send_event_email(event_id, tries=1):
    """E-mail one event to its recipients (one message each, so no one sees the others'
    addresses); an SMTP failure is tried again later, WEBHOOK_MAX_ATTEMPTS times in all."""
    event = NotificationEvent.objects.select_related("team").filter(pk=event_id).first()
    if event is None:
        return
    try:
        for address in recipients(event):
            send_mail(email_subject(event), email_text(event), None, [address])
    except OSError as exc:
        if tries < settings.WEBHOOK_MAX_ATTEMPTS:
            send_event_email.apply_async((event_id, tries + 1), countdown=backoff(tries))
        log.warning("notification e-mail for event %s failed (try %s): %s", event.uuid, tries, type(exc).__name__)


# --- words ------------------------------------------------------------------------------------


def summary(event):
    """One line saying what happened (Slack text, e-mail subject)."""
    data = event.data
    if event.kind == "comparison.finished":
        return f"Comparison #{data['comparison']['id']} finished: {_statuses(data)}"
    if event.kind == "batch.finished":
        return f"Batch “{data['batch']['name']}” finished: {_statuses(data)}"
    if event.kind == "budget.threshold":
        return (f"{data['team']['name']} reached {data['threshold_percent']} % of its monthly budget: "
                f"${Decimal(data['counted_usd']):.2f} of ${Decimal(data['monthly_usd']):.2f} spent or reserved in "
                f"{data['month']}")
    if event.kind == "benchmark.run_finished":
        run = data["run"]
        if run["status"] == "refused":
            return f"Benchmark “{data['benchmark']['name']}” run #{run['id']} was refused: {run['reason']}"
        return f"Benchmark “{data['benchmark']['name']}” run #{run['id']} finished"
    if event.kind == "benchmark.regressed":
        return f"Benchmark “{data['benchmark']['name']}” regressed: {data['alert']['message']}"
    if event.kind == TEST_EVENT:
        return f"Test delivery for {data['team']['name']}'s webhook"
    return event.kind


def _statuses(data):
    parts = [f"{count} {status.replace('_', ' ')}" for status, count in sorted(data["statuses"].items())]
    return f"{data['calls']} call{'s' if data['calls'] != 1 else ''} ({', '.join(parts) or 'none'})"


def details(event):
    """The lines under the summary: each route (unless hidden) and the link."""
    data = event.data
    lines = []
    for route in data.get("routes") or []:
        if "p95_ms" in route:  # a benchmark run's route
            lines.append(f"• {route['route']}: {route['calls']} calls"
                         + (f", success {route['success_rate']:.0%}" if route["success_rate"] is not None else "")
                         + (f", median {route['median_ms']:.0f} ms, p95 {route['p95_ms']:.0f} ms"
                            if route["median_ms"] is not None else ""))
        elif "latency_ms" in route:
            cost = route["cost_usd"]
            lines.append(f"• {route['label'] or route['route']}: {route['status']}"
                         + (f", {route['latency_ms']:.0f} ms" if route["latency_ms"] is not None else "")
                         + (f", ${cost} ({route['cost_source']})" if cost is not None else ", cost unknown"))
        else:
            latency = route["median_latency_ms"]
            lines.append(f"• {route['route']}: {route['succeeded']} of {route['calls']} succeeded"
                         + (f", median {latency:.0f} ms" if latency is not None else ""))
    if data.get("routes_hidden"):
        lines.append("Blind: the routes are not named here; each reviewer sees them after their verdict.")
    url = (data.get("comparison") or data.get("batch") or data.get("benchmark") or {}).get("url") or data.get("team_url")
    if url:
        lines.append(url)
    return lines


def slack_text(event):
    return "\n".join([summary(event), *details(event)])


def email_text(event):
    return "\n".join([summary(event), "", *details(event), "",
                      f"Event {event.kind}, id {event.uuid}, at {event.created_at:%Y-%m-%d %H:%M} UTC.",
                      "An owner of the team chose to send you this e-mail on the team's notifications page."])
