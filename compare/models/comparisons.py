"""Comparisons and their results (history filters, claim, finish), and their images."""


from django.conf import settings
from django.db import models, transaction
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone

from compare.models.events import ResultEvent


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED)
# Failures where the provider refused the call before doing any work: nothing was billed, so the
# call's budget reservation is released to $0. Any other failure (a timeout, a cancel while the
# provider worked, a bad answer, a lost worker) may have been billed and keeps its reservation.
NOT_BILLED = ("auth", "invalid_request", "insufficient_credit", "rate_limited", "unavailable", "unknown_route")


# Sent (sender=Comparison, comparison_id=...) once one or more of a comparison's results have
# ended, whoever ended them (a worker, the reaper, a cancel): notifications listen (compare/notifications/signals.py).
results_ended = Signal()


class CostSource(models.TextChoices):
    """What a result's cost_usd is, in the word every page, export and the API use for it."""

    BILLED = "billed", "billed"  # the provider's own money figure for the call
    USAGE = "usage", "from usage"  # the provider's reported tokens or credits x our catalog price
    TEAM_PRICE = "team_price", "team price"  # the team's own price for the route
    ESTIMATED = "estimated", "est."  # the catalog's price for the request as asked
    UNKNOWN = "unknown", "unknown"


# The words beside a known cost, in the order totals list them.
COST_WORDS = ("billed", "from usage", "team price", "est.", "rough")
COST_TITLES = {
    "billed": "the provider's own figure for what it billed for this call",
    "from usage": "what the provider reported using (tokens or credits) times our catalog's price",
    "team price": "your team's own price for this route (team page), not a figure from the provider",
    "est.": "the catalog's price for the request as asked, not a figure from the provider",
    "rough": "a rough estimate: the catalog's price for this route is unresolved (docs/pricing.md)",
    "unknown": "no figure from the provider and no known price",
}


class EstimateSource(models.TextChoices):
    """Where a result's estimated_cost_usd came from, fixed at submit."""

    CATALOG = "catalog", "catalog"
    ROUGH = "rough", "rough"  # a catalog price marked unresolved (providers/pricing.json)
    TEAM_PRICE = "team_price", "team price"


class ComparisonQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Comparisons of the teams the user belongs to; nothing for anyone else."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)

    def listed_for(self, user):
        """visible_to(user) for a list read page by page, newest first: the same comparisons,
        picked by the ids of the user's teams read first, so that the database walks the
        (team, -created_at) index to the page instead of sorting every comparison the user may
        see (SQLite's planner does that for the join: 280 ms at 100,000 comparisons, not 3)."""
        if not user.is_authenticated:
            return self.none()
        teams = self.model._meta.get_field("team").related_model.objects.filter(memberships__user=user)
        return self.filter(team_id__in=list(teams.values_list("pk", flat=True)))

    def search(self, text):
        return self.filter(prompt__icontains=text) if text else self

    def with_route(self, route_key):
        """Comparisons with a result on this route: a semi-join (IN over the route_key index), not a
        join of every result plus a DISTINCT over whole comparison rows."""
        if not route_key:
            return self
        return self.filter(pk__in=Result.objects.filter(route_key=route_key).values("comparison_id"))

    def with_status(self, status):
        """'running' = some result not terminal; 'done' = all terminal; else any result in status.
        Semi-joins over the status index, like with_route."""
        if not status:
            return self
        unfinished = Result.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).values("comparison_id")
        if status == "running":
            return self.filter(pk__in=unfinished)
        if status == "done":
            return self.exclude(pk__in=unfinished)
        return self.filter(pk__in=Result.objects.filter(status=status).values("comparison_id"))


class Comparison(models.Model):
    prompt = models.TextField()
    # size "WxH", quality, output_format, n, seed: the common parameters sent to every route.
    params = models.JSONField(default=dict)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="comparisons")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    # Blind review: route names and order hidden (shuffled per reviewer) until the reviewer has
    # given a verdict; optionally no image is shown before every route has finished.
    blind = models.BooleanField(default=False)
    hold_images_until_done = models.BooleanField(default=False)

    objects = ComparisonQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # A team's history page reads its comparisons in this order (no sort of every row).
        indexes = [models.Index(fields=["team", "-created_at", "-id"], name="comparison_team_recent")]

    def __str__(self):
        return f"#{self.pk} {self.prompt[:40]}"

    def get_absolute_url(self):
        return reverse("compare:detail", args=[self.pk])

    @property
    def status(self):
        return self.status_of(self.results.all())

    @staticmethod
    def status_of(results):
        """"done" once every one of the comparison's results is terminal, else "running"."""
        statuses = [r.status for r in results]
        return "done" if statuses and all(s in TERMINAL for s in statuses) else "running"

    @property
    def route_keys(self):
        return [r.route_key for r in self.results.all()]

    def cancel(self):
        """Queued results end cancelled at once; running ones are asked to stop (their worker
        cancels the job at the provider at its next poll). Returns (cancelled, asked)."""
        now = timezone.now()
        with transaction.atomic():
            queued = list(self.results.select_for_update().filter(status=Status.QUEUED).values_list("pk", flat=True))
            cancelled = Result.objects.filter(pk__in=queued, status=Status.QUEUED).update(
                status=Status.CANCELLED, finished_at=now, error_code="cancelled", charge_usd=0,
                error="Cancelled before it started: the provider was never called.")
            running = list(self.results.select_for_update()
                           .filter(status=Status.RUNNING, cancel_requested_at__isnull=True).values_list("pk", flat=True))
            asked = Result.objects.filter(pk__in=running, status=Status.RUNNING).update(cancel_requested_at=now)
            ResultEvent.record([(pk, self.pk, Status.CANCELLED) for pk in queued] +
                               [(pk, self.pk, Status.RUNNING) for pk in running])
        if cancelled:
            results_ended.send(sender=Comparison, comparison_id=self.pk)
        return cancelled, asked


class Result(models.Model):
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveSmallIntegerField(default=0)
    route_key = models.CharField(max_length=200, db_index=True)
    route_label = models.CharField(max_length=200)
    sandbox = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)  # a short human reason, cleaned of secrets

    # Wall-clock moments (for display and our queue wait) ...
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # When its task was last sent to the broker; None while it waits for its team's fair share
    # (tasks.dispatch sends at most TEAM_MAX_IN_FLIGHT of a team's calls at a time).
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)  # the Celery worker that ran it
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # A long-running provider job (batch id and the like, no secrets), checked by scheduled tasks.
    job = models.JSONField(default=dict, blank=True)
    # Attempts the provider refused before the one that counts (429/5xx, retried with backoff).
    attempts = models.JSONField(default=list, blank=True)
    # ... and durations in ms: queue_ms is ours (enqueue -> task start), latency_ms is the
    # provider call measured with perf_counter; provider_timings holds the rest (see Timings).
    queue_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    provider_timings = models.JSONField(default=dict, blank=True)

    estimated_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    estimate_source = models.CharField(max_length=16, choices=EstimateSource.choices, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost_source = models.CharField(max_length=16, choices=CostSource.choices, default=CostSource.UNKNOWN)
    usage = models.JSONField(default=dict, blank=True)
    # What this call counts against its team's budget: reserved at submit (the estimate, the
    # team's price, or the unpriced ceiling, n included); once it ends, what it really cost (its
    # cost, $0 when nothing was billed, the reservation kept when that cannot be known).
    charge_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)

    # What makes the result reproducible.
    request_sent = models.JSONField(default=dict, blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    # What the route did with each common parameter: {"size": {"asked": ..., "sent": ...,
    # "received": [...]}, "seed": {"asked": 42, "supported": false}, ..., "revised_prompt": [...]}
    # ("sent" only where the adapter sends the parameter as such; see compare/execution.parameters).
    parameters = models.JSONField(default=dict, blank=True)
    # Folded into the leaderboard's rollups (compare/insights/models.py): NULL until then.
    rolled_up = models.BooleanField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["position", "id"]
        # The leaderboard (compare/insights/leaderboard.py) reads results through these covering indexes
        # rather than the wide rows: its aggregates in route order, the latencies ranked per
        # route, and the few retried calls.
        indexes = [
            models.Index(fields=["route_key", "comparison", "status", "cost_source", "error_code", "cost_usd",
                                 "latency_ms"], name="result_board"),
            models.Index(fields=["status", "route_key", "latency_ms", "comparison"], name="result_latency"),
            models.Index(fields=["route_key", "comparison"], condition=~models.Q(attempts=[]), name="result_retried"),
            models.Index(fields=["comparison", "status", "route_key", "id"], name="result_comparison_status"),
            # The few results not folded into the rollups yet (queued, running, just finished).
            models.Index(fields=["status"], condition=models.Q(rolled_up__isnull=True), name="result_unfolded"),
            # /metrics reads the results that finished in its recent window (compare/ops/metrics.py).
            models.Index(fields=["finished_at"], condition=models.Q(finished_at__isnull=False), name="result_finished"),
        ]

    def __str__(self):
        return f"{self.route_key} ({self.status})"

    @property
    def is_terminal(self):
        return self.status in TERMINAL

    def claim(self, worker=""):
        """queued -> running, atomically. False if another delivery already claimed it."""
        return bool(Result.claim_all([self], worker))

    @staticmethod
    def claim_all(results, worker=""):
        """queued -> running for each of ``results`` still queued, in one transaction of a few
        statements whatever their number (one commit and one batch of events for a message of
        them): the queued ones are read and locked (SELECT ... FOR UPDATE on PostgreSQL, so a
        delivery racing this one waits, then finds them running; SQLite's write transaction
        already excludes it), then marked running, one UPDATE for those enqueued together. A
        result another delivery has claimed, or that was cancelled, is left out. Returns the ones
        won, with their started_at, worker and queue_ms (our queue wait: enqueue -> claim) set.
        Few statements matter: each one gives up the interpreter lock, and under load (claims
        beside hundreds of call threads) getting it back costs milliseconds while the database's
        write lock is held; the claim of a message of 10 went from 6.2 to 3.1 ms of CPU."""
        if not results:
            return []
        now, worker = timezone.now(), worker[:200]
        with transaction.atomic():
            queued = dict(Result.objects.select_for_update()
                          .filter(pk__in=[r.pk for r in results], status=Status.QUEUED)
                          .order_by("pk").values_list("pk", "enqueued_at"))
            queue_ms = {pk: (now - at).total_seconds() * 1000 if at else None for pk, at in queued.items()}
            # Results enqueued together share their enqueued_at, hence their queue wait: one UPDATE
            # for each distinct wait (a message holds one or a few), no per-row expression.
            by_wait = {}
            for pk, ms in queue_ms.items():
                by_wait.setdefault(ms, []).append(pk)
            for ms, pks in by_wait.items():
                Result.objects.filter(pk__in=pks, status=Status.QUEUED).update(
                    status=Status.RUNNING, started_at=now, worker=worker, queue_ms=ms)
            won = [r for r in results if r.pk in queued]
            ResultEvent.record([(r.pk, r.comparison_id, Status.RUNNING) for r in won])
        for result in won:
            result.status, result.started_at, result.worker = Status.RUNNING, now, worker
            result.enqueued_at, result.queue_ms = queued[result.pk], queue_ms[result.pk]
        return won

    def finish(self, status, **fields):
        """running -> a terminal status with the given fields; False if it was not running."""
        assert status in TERMINAL
        fields.update(status=status, finished_at=timezone.now())
        if fields.get("cost_usd") is not None:
            fields["charge_usd"] = fields["cost_usd"]  # the reservation becomes the real cost
        elif status == Status.FAILED and fields.get("error_code") in NOT_BILLED:
            fields["charge_usd"] = 0
        with transaction.atomic():
            won = Result.objects.filter(pk=self.pk, status=Status.RUNNING).update(**fields)
            if won:  # the open pages learn of it from the same commit (compare/streams.py)
                ResultEvent.record([(self.pk, self.comparison_id, status)])
        if won:
            for name, value in fields.items():
                setattr(self, name, value)
            results_ended.send(sender=Comparison, comparison_id=self.comparison_id)
        return bool(won)

    @property
    def cost_word(self):
        """The word shown beside cost_usd: billed, from usage, team price, est., rough or unknown
        ("rough": an estimate from a catalog price marked unresolved)."""
        if self.cost_source == CostSource.UNKNOWN or self.cost_usd is None:
            return "unknown"
        if self.cost_source == CostSource.ESTIMATED and self.estimate_source == EstimateSource.ROUGH:
            return "rough"
        return CostSource(self.cost_source).label if self.cost_source in CostSource.values else self.cost_source

    @property
    def cost_title(self):
        """What the cost word means, for a tooltip."""
        return COST_TITLES.get(self.cost_word, "")

    @property
    def estimate_word(self):
        """The word beside estimated_cost_usd: est., rough or team price."""
        return {EstimateSource.ROUGH: "rough", EstimateSource.TEAM_PRICE: "team price"}.get(self.estimate_source, "est.")

    @property
    def cost_is_known(self):
        return self.cost_source != CostSource.UNKNOWN and self.cost_usd is not None

    @property
    def seed_word(self):
        """What happened to an asked seed: "" (none asked, or not known yet), "sent" or
        "seed not supported by this route"."""
        seed = (self.parameters or {}).get("seed") or {}
        if seed.get("asked") is None or "supported" not in seed:
            return ""
        return "sent" if seed["supported"] else "seed not supported by this route"

    @property
    def retried_ms(self):
        """Milliseconds the refused attempts took (the calls) ... """
        return sum(a.get("ms") or 0 for a in self.attempts or [])

    @property
    def backoff_ms(self):
        """... and the waits before each retry: neither is in latency_ms (the last attempt's)."""
        return sum(a.get("waited_ms") or 0 for a in self.attempts or [])

    def cancel_requested(self):
        return Result.objects.filter(pk=self.pk, cancel_requested_at__isnull=False).exists()

    def elapsed_seconds(self):
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return max(0, int((end - self.started_at).total_seconds()))


def reference_path(instance, filename):
    return f"references/{instance.comparison_id}/{filename}"


class ReferenceImage(models.Model):
    """An input of an edit comparison: a reference image, or the mask for the first one.
    Checked with Pillow on the way in, like every image we keep."""

    IMAGE = "image"
    MASK = "mask"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="references")
    role = models.CharField(max_length=8, choices=[(IMAGE, "reference image"), (MASK, "mask")], default=IMAGE)
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=reference_path, max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=16)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["role", "index"]

    def get_absolute_url(self):
        return reverse("compare:reference", args=[self.pk])


def image_path(instance, filename):
    return f"results/{instance.result.comparison_id}/{instance.result_id}/{filename}"


class ResultImage(models.Model):
    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(default=0)
    original = models.FileField(upload_to=image_path, max_length=300)
    thumbnail = models.FileField(upload_to=image_path, max_length=300)
    # As read by Pillow, never as claimed by the provider.
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=16)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    source_url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["index"]

    def get_absolute_url(self):
        return reverse("compare:image", args=[self.pk])

    def get_thumbnail_url(self):
        return reverse("compare:thumbnail", args=[self.pk])
