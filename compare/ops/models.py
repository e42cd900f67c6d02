"""Rows that running the app as a service needs: the workers' heartbeats (read by /healthz and
/metrics) and the Idempotency-Key records of the JSON API's submits (compare/api/idempotency.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """One Celery worker, wherever it runs: it updates ``seen_at`` every WORKER_HEARTBEAT_SECONDS
    (compare/ops/health.py), so any web process can tell which workers are alive."""

    hostname = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.hostname} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"

    class Meta:
        db_table = "compare_workerheartbeat"  # moved from the compare app; the table kept its name


class IdempotencyKey(models.Model):
    """The first successful answer to a submit sent with an Idempotency-Key: the same user sending
    the same key and body again within the key's lifetime gets this answer back, and nothing new
    starts. The row is inserted in the transaction that does the work, before the work starts,
    so two requests with one key cannot both start it (the second waits for the unique index)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)  # SHA-256 of method, path and canonical body
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    response_type = models.CharField(max_length=100, blank=True)

    class Meta:
        db_table = "compare_idempotencykey"  # moved from the compare app; the table kept its name
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")]

    def __str__(self):
        return f"{self.key} ({self.user_id})"
