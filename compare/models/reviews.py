"""Team review: thumbs on each result, one verdict per member per comparison, comments.

Thumbs up/down is the one rating used everywhere. A verdict names the winning result, or says
"tie" or "all bad"; every kind counts in the scores (see compare/leaderboard.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Thumb(models.IntegerChoices):
    UP = 1, "👍"
    DOWN = -1, "👎"


class Rating(models.Model):
    result = models.ForeignKey("compare.Result", on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    value = models.SmallIntegerField(choices=Thumb.choices)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["result", "user"], name="one_rating_per_member")]


class VerdictKind(models.TextChoices):
    WINNER = "winner", "winner"
    TIE = "tie", "tie"
    ALL_BAD = "all_bad", "all bad"


class Verdict(models.Model):
    """A team member's verdict on a comparison (votes from outside the team are kept apart)."""

    comparison = models.ForeignKey("compare.Comparison", on_delete=models.CASCADE, related_name="verdicts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verdicts")
    kind = models.CharField(max_length=8, choices=VerdictKind.choices)
    winner = models.ForeignKey("compare.Result", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="wins")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "user"], name="one_verdict_per_member"),
            models.CheckConstraint(condition=models.Q(kind="winner", winner__isnull=False)
                                   | (~models.Q(kind="winner") & models.Q(winner__isnull=True)),
                                   name="a_winner_verdict_names_the_winner"),
        ]


class Comment(models.Model):
    comparison = models.ForeignKey("compare.Comparison", on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField(max_length=4000)  # plain text, always shown escaped
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
