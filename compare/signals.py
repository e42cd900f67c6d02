"""Receivers: a personal team for every new user, and notifications when a comparison's results end.

A user gets a personal team however it was created (sign-up, admin, createsuperuser, a shell);
results_ended is sent whoever ended the results (a worker, the reaper, a cancel). The
leaderboard's rollups keep their own receivers beside them (compare/models/rollups.py)."""

import logging

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import notifications
from .models import Team
from .models.comparisons import results_ended

log = logging.getLogger(__name__)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_users_a_personal_team(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        Team.personal_for(instance)


@receiver(results_ended)
def notify_results_ended(sender, comparison_id, **kwargs):
    """Events (compare/notifications.py): a finished comparison or batch, a budget threshold.
    A failure here is logged and never undoes or fails the result that ended."""
    try:
        notifications.results_ended(comparison_id)
    except Exception:
        log.exception("notifications for comparison %s failed", comparison_id)
