"""Share links: a read-only public page for one comparison, or for a frozen set of them, and the
blind verdicts visitors give through a "vote" link (kept apart from the team's verdicts).

The token is the capability: 192 random bits from `secrets`, unguessable. A link answers only
while it lives (not revoked, not expired); everything it opens (page, images, preview) is checked
against it on every request."""

import hashlib
import random
import secrets
import string
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .reviews import VerdictKind


def _share_token():
    return secrets.token_urlsafe(24)  # 24 bytes = 192 bits


class ShareKind(models.TextChoices):
    VIEW = "view", "view only"
    VOTE = "vote", "view and vote"


class ShareLinkQuerySet(models.QuerySet):
    def live(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def opening(self, token):
        """The live link with this token, or None (revoked, expired and unknown look the same)."""
        return self.live().filter(token=token).select_related("team", "comparison").first()

    def of_teams(self, user):
        from .teams import Team

        return self.filter(team__in=Team.objects.of(user))


class ShareLink(models.Model):
    team = models.ForeignKey("compare.Team", on_delete=models.CASCADE, related_name="share_links")
    # One comparison, or a set: the ids matching a saved history filter, frozen at creation.
    comparison = models.ForeignKey("compare.Comparison", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="share_links")
    comparison_ids = models.JSONField(default=list, blank=True)
    filter = models.JSONField(default=dict, blank=True)  # what the set was made from, for display
    token = models.CharField(max_length=64, unique=True, default=_share_token)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    blind = models.BooleanField(default=False)  # labels A, B, C (shuffled per link) instead of route names
    show_costs = models.BooleanField(default=True)
    kind = models.CharField(max_length=8, choices=ShareKind.choices, default=ShareKind.VIEW)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"share {self.token[:6]}… of {self.comparison or f'{len(self.comparison_ids)} comparisons'}"

    def get_absolute_url(self):
        return reverse("compare:share", args=[self.token])

    def comparison_url(self, comparison):
        if self.comparison_id == comparison.pk:
            return self.get_absolute_url()
        return reverse("compare:share-comparison", args=[self.token, comparison.pk])

    @property
    def is_set(self):
        return self.comparison_id is None

    @property
    def is_live(self):
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @property
    def votes(self):
        return self.kind == ShareKind.VOTE

    def comparisons(self):
        """What the link opens: its comparison, or the frozen set (still only the team's)."""
        from .comparisons import Comparison

        ids = [self.comparison_id] if self.comparison_id else self.comparison_ids
        return Comparison.objects.filter(team_id=self.team_id, pk__in=ids)

    def revoke(self):
        """Ends the link at once; False if it had already been revoked."""
        won = ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.refresh_from_db(fields=["revoked_at"])
        return bool(won)

    def mark_opened(self):
        self.last_opened_at = timezone.now()
        ShareLink.objects.filter(pk=self.pk).update(last_opened_at=self.last_opened_at)

    def labelled(self, results):
        """[(label, result)]: route labels, or blind letters in an order shuffled per link."""
        results = list(results)
        if not self.blind:
            return [(r.route_label, r) for r in results]
        if not results:
            return []
        rng = random.Random(f"{self.token}:{results[0].comparison_id}")
        rng.shuffle(results)
        return [(_letters(n), r) for n, r in enumerate(results)]

    def preview_path(self, comparison=None):
        return f"share-previews/{self.pk}/{comparison.pk if comparison else 'set'}.png"


def _letters(n):
    letters = string.ascii_uppercase
    return letters[n] if n < 26 else letters[n // 26 - 1] + letters[n % 26]


def visitor_hash(key):
    return hashlib.sha256(f"visitor:{key}".encode()).hexdigest()


class ExternalVoteQuerySet(models.QuerySet):
    def tally(self):
        """[(what, count)], most first: route labels for winners, then tie and all bad."""
        counts = Counter()
        for vote in self.select_related("winner"):
            counts[vote.winner.route_label if vote.winner else vote.get_kind_display()] += 1
        return counts.most_common()


class ExternalVote(models.Model):
    """A verdict from outside the team, cast through a vote link: one per visitor per comparison.
    The visitor is a random cookie; only its hash is kept."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="external_votes")
    comparison = models.ForeignKey("compare.Comparison", on_delete=models.CASCADE, related_name="external_votes")
    kind = models.CharField(max_length=8, choices=VerdictKind.choices)
    winner = models.ForeignKey("compare.Result", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="external_wins")
    visitor_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ExternalVoteQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "visitor_hash"], name="one_external_vote_per_visitor"),
            models.CheckConstraint(condition=Q(kind="winner", winner__isnull=False)
                                   | (~Q(kind="winner") & Q(winner__isnull=True)),
                                   name="an_external_winner_names_the_winner"),
        ]

    @classmethod
    def cast(cls, link, comparison, visitor_key, kind, winner=None):
        """(vote, True) when recorded; (the earlier vote, False) when this visitor already voted."""
        digest = visitor_hash(visitor_key)
        try:
            with transaction.atomic():
                return cls.objects.create(link=link, comparison=comparison, kind=kind, winner=winner,
                                          visitor_hash=digest), True
        except IntegrityError:
            return cls.objects.get(comparison=comparison, visitor_hash=digest), False
