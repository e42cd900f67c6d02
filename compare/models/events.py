"""The changes of results' states, one row each, for the open pages that follow them
(compare/streams.py). A row is written in the transaction that changes the result, so a page
that reads the rows after an id misses nothing and sees nothing that did not happen."""

from django.db import connection, models, transaction
from django.utils import timezone

from compare import eventbus

# Any constant: the key of the PostgreSQL advisory lock that orders the event rows' commits.
ORDER_LOCK = 7_140_001


class ResultEvent(models.Model):
    """Result N of comparison C is now in this status (or its card changed in that status: a
    cancel asked, a long job submitted). Says nothing a results page does not already show."""

    id = models.BigAutoField(primary_key=True)
    comparison = models.ForeignKey("compare.Comparison", on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey("compare.Result", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["comparison", "id"], name="event_comparison")]

    def __str__(self):
        return f"#{self.pk} result {self.result_id} {self.status}"

    @classmethod
    def record(cls, changes):
        """Write one row per (result_id, comparison_id, status) in ``changes``. Must run inside the
        transaction that made the change, as its last write: on PostgreSQL an advisory lock held to
        the commit makes the rows commit in id order (SQLite writes one transaction at a time), so
        a reader that has seen id N will never later find a smaller one. Redis, where configured,
        is told after the commit (eventbus.py); the table stays the record."""
        changes = list(changes)
        if not changes:
            return []
        assert not connection.get_autocommit(), "record events in the transaction of the change"
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ORDER_LOCK])
        rows = cls.objects.bulk_create(
            [cls(result_id=result_id, comparison_id=comparison_id, status=status)
             for result_id, comparison_id, status in changes])
        transaction.on_commit(eventbus.announce)
        return rows

    @classmethod
    def latest_id(cls, comparison_ids):
        """The newest event id of these comparisons (0 for none): a page rendered after reading it
        follows the stream from there."""
        row = cls.objects.filter(comparison_id__in=comparison_ids).order_by("-id").values_list("id", flat=True).first()
        return row or 0

    @classmethod
    def prune(cls, older_than):
        """Delete the rows created before ``older_than``; a page away longer than that reloads."""
        return cls.objects.filter(created_at__lt=older_than).delete()[0]
