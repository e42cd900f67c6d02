"""The notifications when results end, whoever ended them."""

import logging

from django.dispatch import receiver

from compare.models import results_ended
from compare.notifications import notifications

log = logging.getLogger(__name__)


@receiver(results_ended)
def notify_results_ended(sender, comparison_id, **kwargs):
    """Events (compare/notifications/notifications.py): a finished comparison or batch, a budget
    threshold. A failure here is logged and never undoes or fails the result that ended."""
    try:
        notifications.results_ended(comparison_id)
    except Exception:
        log.exception("notifications for comparison %s failed", comparison_id)
