"""A result's automatic checks on rows: the text read back, the spec checks, their status."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class TextStatus(models.TextChoices):
    NO_QUOTES = "no_quotes"  # the prompt quotes no text: nothing to read back
    SCORED = "scored"  # every quote was read and scored
    PARTIAL = "partial"  # some quotes could not be read (a language missing, OCR timed out)
    UNAVAILABLE = "unavailable"  # none could be read


class ResultCheck(models.Model):
    """The automatic checks of a succeeded result's images (compare/checks/checks.py, docs/checks.md),
    computed after it was stored, outside its timing. No row yet: the checks are pending."""

    DONE = "done"
    FAILED = "failed"

    result = models.OneToOneField("compare.Result", on_delete=models.CASCADE, primary_key=True,
                                  related_name="image_checks")
    status = models.CharField(max_length=8, choices=[(DONE, "done"), (FAILED, "failed")], default=DONE)
    error = models.TextField(blank=True)  # why the checks could not run (status failed)
    # Text: 1 - normalised edit distance of the quoted text to the closest span read by OCR,
    # the mean over the result's images; NULL when nothing was scored (see text_status).
    text_status = models.CharField(max_length=12, choices=TextStatus.choices, blank=True)
    text_accuracy = models.FloatField(null=True, blank=True)
    text_expected = models.JSONField(default=list, blank=True)
    text_read = models.TextField(blank=True)
    text_notes = models.JSONField(default=list, blank=True)
    # Spec, over every image of the result (details per image in ``images``).
    size_matches = models.BooleanField(null=True)  # every image is the size asked for
    size_matches_sent = models.BooleanField(null=True)  # ... the size the route sent (NULL: it sent none)
    aspect_matches = models.BooleanField(null=True)  # every image has the aspect ratio asked for (1 %)
    format_matches = models.BooleanField(null=True)  # every image is in the format asked for
    blank = models.BooleanField(null=True)  # some image is blank or near-uniform
    has_alpha = models.BooleanField(null=True)  # some image has an alpha channel
    images = models.JSONField(default=list, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)  # our time spent checking (not the provider's)
    checked_at = models.DateTimeField(default=timezone.now)
    # Copied from the result and its comparison (they never change), so the leaderboard's per-route
    # means read this table alone, through check_board, not joined to the results and comparisons.
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    route_key = models.CharField(max_length=200)
    created_at = models.DateTimeField()  # the comparison's
    quality = models.CharField(max_length=40, blank=True)
    size = models.CharField(max_length=40, blank=True)

    class Meta:
        db_table = "compare_resultcheck"  # moved from the compare app; the table kept its name
        # Covering (as Result's result_board): the per-route means are read from the index alone.
        indexes = [models.Index(fields=["team", "created_at", "route_key", "status", "quality", "size",
                                        "text_accuracy", "blank", "size_matches"], name="check_board")]

    def __str__(self):
        return f"checks of result {self.result_id} ({self.status})"

    @staticmethod
    def about(result):
        """The fields a checks row copies from its result and comparison (check_board)."""
        comparison = result.comparison
        params = comparison.params if isinstance(comparison.params, dict) else {}

        def text(name):
            return params[name][:40] if isinstance(params.get(name), str) else ""

        return dict(team_id=comparison.team_id, route_key=result.route_key,
                    created_at=comparison.created_at, quality=text("quality"), size=text("size"))


def checks_of(result):
    """The result's ResultCheck, or None while its checks are pending (or it has no images)."""
    try:
        return result.image_checks
    except ResultCheck.DoesNotExist:
        return None


def checks_status(result):
    """"pending", "done" or "failed" for a succeeded result; "missing" when it has had no checks for
    CHECKS_MISSING_AFTER_SECONDS (stored before they existed, or the task was lost: `manage.py
    check_images` runs them); None for a result without images."""
    if result.status != "succeeded":
        return None
    found = checks_of(result)
    if found is not None:
        return found.status
    late = timezone.now() - timedelta(seconds=settings.CHECKS_MISSING_AFTER_SECONDS)
    return "missing" if result.finished_at is not None and result.finished_at < late else "pending"
