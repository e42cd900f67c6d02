"""Notifications on rows: a team's webhooks, the events the app emitted (each at most once), each
webhook's deliveries with every attempt, and which members get which events by e-mail.

The sending itself (payloads, signatures, retries, e-mail) is compare/notifications/notifications.py."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# Every event a webhook or an e-mail may subscribe to (docs/notifications.md); the benchmark events
# come from compare/benchmarks/runs.py.
EVENTS = {
    "comparison.finished": "A comparison finished (every route ended)",
    "batch.finished": "A batch finished (every comparison of it ended)",
    "budget.threshold": "80 % and 100 % of the monthly budget reached (each once a month)",
    "benchmark.run_finished": "A benchmark run finished (or was refused, with the reason)",
    "benchmark.regressed": "A benchmark route drifted: an alert opened (docs/benchmarks.md)",
}
TEST_EVENT = "webhook.test"  # sent to one webhook when its owner asks; no one subscribes to it


class WebhookFormat(models.TextChoices):
    JSON = "json"
    SLACK = "slack"


class Webhook(models.Model):
    """A URL a team's events are POSTed to, signed with the webhook's secret (stored encrypted,
    like team credentials; only its last four characters are ever shown back)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON)
    secret_ciphertext = models.TextField()
    secret_last4 = models.CharField(max_length=4)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_webhook"  # moved from the compare app; the table kept its name
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.url} ({self.format})"

    def wants(self, kind):
        return kind in self.events


class NotificationEvent(models.Model):
    """Something that happened, once: ``key`` names it (the comparison, the batch, the team's
    month and threshold), so a second attempt to emit it finds the first. ``data`` is what every
    delivery of it sends, built once as the webhook viewer may see it (compare/review/visibility.py)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="notification_events")
    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200, unique=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_notificationevent"  # moved from the compare app; the table kept its name
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.key


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(models.Model):
    """One event for one webhook: sent until the receiver answers 2xx or the attempts run out.
    ``uuid`` is the X-Delivery-Id header, the same on every attempt (receivers drop repeats)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(NotificationEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)  # of the last attempt
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # while pending: when it is due
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "compare_delivery"  # moved from the compare app; the table kept its name
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["webhook", "event"], name="one_delivery_per_webhook_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]


class DeliveryAttempt(models.Model):
    """One POST of a delivery: when, how long, the receiver's status code or why none came."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "compare_deliveryattempt"  # moved from the compare app; the table kept its name
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")]


class EmailSubscription(models.Model):
    """An owner's choice: this member gets this event of this team by e-mail."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="email_subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)

    class Meta:
        db_table = "compare_emailsubscription"  # moved from the compare app; the table kept its name
        constraints = [models.UniqueConstraint(fields=["team", "user", "event"], name="one_email_per_member_event")]
