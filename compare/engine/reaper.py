"""The reaper's rules: what a lost worker or a lost message left behind, ended or marked for sending.

compare/tasks.py sends what they say is due and runs the reaper every REAPER_INTERVAL_SECONDS."""

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from compare.engine import limits
from compare.models import Result, ResultEvent, Status


@dataclass
class Stale:
    """What one pass found: how many lost calls it ended, and what should be sent."""

    ended: int = 0
    recheck: list = field(default_factory=list)  # long jobs whose scheduled check was lost
    resend: list = field(default_factory=list)  # sent long ago and still queued: the broker lost them
    waiting: dict = field(default_factory=dict)  # team id -> results never sent, waiting too long


def find_stale():
    """End what a lost worker left behind, and find what a lost message left queued.

    - running past its deadline (and the HTTP read timeout) plus a grace period, with no
      long-running job: the worker died mid-call. It ends ``failed``; the provider is not called
      again, since the first call may have billed.
    - a long-running job whose scheduled check was lost: a new check is due.
    - queued for longer than REQUEUE_AFTER_SECONDS after its task was sent (the broker lost the
      message): its task is due again (its clock restarts here); the claim makes a duplicate
      harmless. Never sent and waiting that long (the broker was down at submit, or a lost call
      never handed its team's turn on): due within the team's fair share."""
    now = timezone.now()
    found = Stale()
    longest = settings.PROVIDER_DEADLINE_SECONDS or settings.LONGEST_DEADLINE_SECONDS
    limit = max(longest, settings.PROVIDER_READ_TIMEOUT) + settings.REAPER_GRACE_SECONDS
    for result in Result.objects.filter(status=Status.RUNNING, started_at__lt=now - timedelta(seconds=limit)):
        if result.job:
            continue
        found.ended += result.finish(Status.FAILED, error_code="worker_lost", error=(
            "The worker running this call stopped before it finished (crashed, killed or restarted). "
            "The provider was called once and may have billed it, so it is not called again."))
    for result in Result.objects.filter(status=Status.RUNNING).exclude(job={}):
        quiet = time.time() - result.job.get("checked_at", 0)
        if quiet > max(600, 5 * result.job.get("poll_interval", 60)):
            found.recheck.append(result.pk)
    stale = now - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    queued = Result.objects.filter(status=Status.QUEUED)
    found.resend = list(queued.filter(sent_at__lt=stale).values_list("pk", flat=True))
    Result.objects.filter(pk__in=found.resend).update(sent_at=now)
    waiting = queued.filter(Q(enqueued_at__lt=stale) | Q(enqueued_at__isnull=True, comparison__created_at__lt=stale),
                            sent_at__isnull=True)
    for pk, team_id in waiting.values_list("pk", "comparison__team_id"):
        found.waiting.setdefault(team_id, []).append(pk)
    return found


def tidy():
    """After a pass: free the slots of calls that ended without giving them back, and drop old
    result events."""
    limits.free_lost_slots()
    ResultEvent.prune(timezone.now() - timedelta(seconds=settings.EVENTS_KEEP_SECONDS))
