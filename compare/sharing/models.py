"""Share links: a read-only public page for one comparison, or for a frozen set of them, and the
blind verdicts visitors give through a "vote" link (kept apart from the team's verdicts), each
with a signed per-link ballot and an address limit.

The token is the capability: 192 random bits from `secrets`, unguessable. A link answers only
while it lives (not revoked, not expired); everything it opens (page, images, preview) is checked
against it on every request."""

import hashlib
import random
import secrets
import string
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from compare.review.models import VerdictKind


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
        from compare.teams.models import Team

        return self.filter(team__in=Team.objects.of(user))


class ShareLink(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="share_links")
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
        db_table = "compare_sharelink"  # moved from the compare app; the table kept its name
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"share {self.token[:6]}… of {self.comparison or f'{len(self.comparison_ids)} comparisons'}"

    def get_absolute_url(self):
        return reverse("sharing:share", args=[self.token])

    def comparison_url(self, comparison):
        if self.comparison_id == comparison.pk:
            return self.get_absolute_url()
        return reverse("sharing:share-comparison", args=[self.token, comparison.pk])

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
        from compare.models import Comparison

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


def address_hash(link, address):
    """The client address as kept with a vote: keyed with SECRET_KEY and bound to the link, so the
    stored value names no address (an IPv4 space is small enough to hash through)."""
    return salted_hmac("compare.vote-address", f"{link.pk}:{address}", algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class Ballot:
    """A vote-link visitor's ballot: a random key, signed for one link (django.core.signing), so a
    made-up or another link's value is no ballot. Only its hash is kept with the vote."""

    key: str

    @classmethod
    def issue(cls):
        return cls(secrets.token_urlsafe(32))

    @staticmethod
    def _salt(link):
        return f"compare.ballot:{link.pk}"

    def signed(self, link):
        return signing.dumps(self.key, salt=self._salt(link))

    @classmethod
    def read(cls, link, value):
        """The ballot a signed value carries for this link, or None."""
        if not value:
            return None
        try:
            key = signing.loads(value, salt=cls._salt(link))
        except signing.BadSignature:
            return None
        return cls(key) if isinstance(key, str) and key else None

    @property
    def visitor_hash(self):
        return visitor_hash(self.key)

    def vote(self, link, comparison):
        return link.external_votes.filter(comparison=comparison, visitor_hash=self.visitor_hash).first()

    def has_voted(self, link, comparison):
        return link.external_votes.filter(comparison=comparison, visitor_hash=self.visitor_hash).exists()


class ExternalVoteQuerySet(models.QuerySet):
    def tally(self):
        """[(what, count)], most first: route labels for winners, then tie and all bad."""
        counts = Counter()
        for vote in self.select_related("winner"):
            counts[vote.winner.route_label if vote.winner else vote.get_kind_display()] += 1
        return counts.most_common()


class VoteRefused(Exception):
    """A vote not taken: this client address has used its votes on this comparison of this link."""


class ExternalVote(models.Model):
    """A verdict from outside the team, cast through a vote link: one per ballot per comparison,
    and at most SHARE_VOTES_PER_ADDRESS per client address per comparison of a link within
    SHARE_VOTE_WINDOW_HOURS. Only the hashes of the ballot and the address are kept."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="external_votes")
    comparison = models.ForeignKey("compare.Comparison", on_delete=models.CASCADE, related_name="external_votes")
    kind = models.CharField(max_length=8, choices=VerdictKind.choices)
    winner = models.ForeignKey("compare.Result", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="external_wins")
    visitor_hash = models.CharField(max_length=64)
    address_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ExternalVoteQuerySet.as_manager()

    class Meta:
        db_table = "compare_externalvote"  # moved from the compare app; the table kept its name
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "visitor_hash"], name="one_external_vote_per_visitor"),
            models.CheckConstraint(condition=Q(kind="winner", winner__isnull=False)
                                   | (~Q(kind="winner") & Q(winner__isnull=True)),
                                   name="an_external_winner_names_the_winner"),
        ]
        indexes = [models.Index(fields=["link", "comparison", "address_hash", "created_at"],
                                name="external_vote_address")]

    @classmethod
    def cast(cls, link, comparison, ballot, address, kind, winner=None):
        """(vote, True) when recorded; (the earlier vote, False) when this ballot already voted;
        VoteRefused when the address has used its votes. Votes of one link are taken one at a
        time (a lock on the link's row), so two at once from one address cannot both pass."""
        digest, where = ballot.visitor_hash, address_hash(link, address)
        since = timezone.now() - timedelta(hours=settings.SHARE_VOTE_WINDOW_HOURS)
        try:
            with transaction.atomic():
                ShareLink.objects.select_for_update().filter(pk=link.pk).first()
                earlier = cls.objects.filter(comparison=comparison, visitor_hash=digest).first()
                if earlier is not None:
                    return earlier, False
                used = cls.objects.filter(link=link, comparison=comparison, address_hash=where,
                                          created_at__gte=since).count()
                if used >= settings.SHARE_VOTES_PER_ADDRESS:
                    raise VoteRefused("A vote from your network address has already been counted here.")
                return cls.objects.create(link=link, comparison=comparison, kind=kind, winner=winner,
                                          visitor_hash=digest, address_hash=where), True
        except IntegrityError:  # the same ballot twice at once: the other one was recorded
            return cls.objects.get(comparison=comparison, visitor_hash=digest), False
