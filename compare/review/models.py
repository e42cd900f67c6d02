"""Team review: thumbs on each result, one verdict per member per comparison, comments.

Thumbs up/down is the one rating used everywhere. A verdict names the winning result, or says
"tie" or "all bad"; every kind counts in the scores (see compare/insights/leaderboard.py)."""

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.dispatch import Signal
from django.utils import timezone
from django.utils.crypto import salted_hmac

from compare.models import Comparison, Result, Status
from compare.review.visibility import Visibility, images_held

# Sent (sender=Verdict, comparison_id=...) once a member's verdict is given or replaced; it is
# stored with an UPDATE, which sends no post_save. The leaderboard's rollups listen
# (compare/insights/models.py): they depend on reviews, reviews know nothing of them.
verdict_given = Signal()


class Thumb(models.IntegerChoices):
    UP = 1, "👍"
    DOWN = -1, "👎"


class Rating(models.Model):
    result = models.ForeignKey("compare.Result", on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    value = models.SmallIntegerField(choices=Thumb.choices)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_rating"  # moved from the compare app; the table kept its name
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
        db_table = "compare_verdict"  # moved from the compare app; the table kept its name
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
        db_table = "compare_comment"  # moved from the compare app; the table kept its name
        ordering = ["created_at", "id"]


# --- State changes -------------------------------------------------------------------------


def _update_or_create(model, lookup, fields):
    """One row per lookup (a unique constraint): a conditional UPDATE, else an INSERT; a
    concurrent INSERT of the same row (a double click) ends as an UPDATE."""
    if model.objects.filter(**lookup).update(**fields):
        return
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **fields)
    except IntegrityError:
        model.objects.filter(**lookup).update(**fields)


class ReviewRefused(Exception):
    """A vote that cannot be taken, with the reason to show."""


def rate(result, user, value):
    """Thumb up (1) or down (-1) on a finished result; None takes the thumb back."""
    if not result.is_terminal:
        raise ReviewRefused("Rate a result once it has finished.")
    if value is None:
        Rating.objects.filter(result=result, user=user).delete()
    elif value in Thumb.values:
        _update_or_create(Rating, {"result": result, "user": user}, {"value": value, "updated_at": timezone.now()})
    else:
        raise ReviewRefused("A rating is a thumb up or a thumb down.")


def give_verdict(comparison, user, kind, winner_id=None):
    """The member's one verdict on the comparison (given again, it replaces the earlier one)."""
    if kind not in VerdictKind.values:
        raise ReviewRefused("Pick a winner, a tie or all bad.")
    results = list(comparison.results.all())
    if images_held(comparison, results):
        raise ReviewRefused("Images are held until every route has finished: give your verdict then.")
    winner = None
    if kind == VerdictKind.WINNER:
        winner = next((r for r in results if str(r.pk) == str(winner_id) and r.status == Status.SUCCEEDED), None)
        if winner is None:
            raise ReviewRefused("The winner must be one of this comparison's succeeded results.")
    _update_or_create(Verdict, {"comparison": comparison, "user": user},
                      {"kind": kind, "winner": winner, "updated_at": timezone.now()})
    verdict_given.send(sender=Verdict, comparison_id=comparison.pk)


def set_review_mode(comparison, blind, hold_images_until_done):
    Comparison.objects.filter(pk=comparison.pk).update(blind=blind, hold_images_until_done=hold_images_until_done)
    comparison.blind, comparison.hold_images_until_done = blind, hold_images_until_done


# --- Blind mode ----------------------------------------------------------------------------


def blind_label(index):
    """A, B, ... Z, AA, AB, ..."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(65 + rest) + label
    return label


def blind_order(comparison, results, user=None):
    """The results shuffled for one reviewer: the same every time for this comparison and user,
    different between reviewers, stored nowhere (a keyed hash of comparison, user and result).
    user None gives the order of pages seen by no one in particular (a public share page)."""
    who = getattr(user, "pk", None) or "anyone"
    return sorted(results, key=lambda r: salted_hmac("compare.blind", f"{comparison.pk}:{who}:{r.pk}",
                                                      algorithm="sha256").hexdigest())


class Review:
    """One member's view of a comparison's review, as compare/review/visibility.py allows it (route
    names masked in blind mode until their verdict, images held until every route has finished,
    the team's votes after their own). Each result gets blind_label, my_thumb, thumbs_up and
    thumbs_down (usernames)."""

    def __init__(self, comparison, user, results=None):
        self.comparison, self.user = comparison, user
        results = list(comparison.results.select_related("image_checks").prefetch_related("images")
                       if results is None else results)
        self.done = Comparison.status_of(results) == "done"
        self.can_review = comparison.team.can_run(user)
        verdicts = list(comparison.verdicts.select_related("user", "winner").order_by("updated_at", "id"))
        self.my_verdict = next((v for v in verdicts if v.user_id == user.pk), None)
        self.visibility = Visibility.for_member(comparison, user, has_verdict=self.my_verdict is not None,
                                                results=results, can_run=self.can_review)
        self.masked = self.visibility.masked
        self.held = not self.visibility.images
        self.results = blind_order(comparison, results, user) if comparison.blind else results
        for index, result in enumerate(self.results):
            result.blind_label = blind_label(index) if comparison.blind else ""
            result.display_name = result.blind_label if self.masked else result.route_label
        # Until a blind reviewer has voted, the team's votes stay hidden too (no herding).
        self.verdicts = [v for v in verdicts if self.visibility.team_verdict or v.user_id == user.pk]
        self._thumbs(results)
        comments = list(comparison.comments.select_related("user"))
        self.comments = [c for c in comments if self.visibility.team_verdict or c.user_id == user.pk]
        self.hidden_comments = len(comments) - len(self.comments)
        self.hidden_verdicts = len(verdicts) - len(self.verdicts)
        self.succeeded = [r for r in self.results if r.status == Status.SUCCEEDED]
        self.can_vote = self.can_review and not self.held

    def _thumbs(self, results):
        by_result = {r.pk: r for r in results}
        for result in results:
            result.my_thumb, result.thumbs_up, result.thumbs_down = None, [], []
        for rating in Rating.objects.filter(result__in=results).select_related("user").order_by("updated_at"):
            result = by_result[rating.result_id]
            if rating.user_id == self.user.pk:
                result.my_thumb = rating.value
            if not self.visibility.team_verdict and rating.user_id != self.user.pk:
                continue
            (result.thumbs_up if rating.value == Thumb.UP else result.thumbs_down).append(rating.user.get_username())

    def result(self, pk):
        return next(r for r in self.results if r.pk == pk)


def team_summary(comparison, blind=False, reviewer=None, labels=None):
    """The team's verdicts in counts: wins, 👍 and 👎 per result, ties, all bad. Blind: results
    named A, B, C in blind_order(comparison, results, reviewer) and listed in that order, or by
    the labels given ({result id: label}, the page's own, e.g. a share link's shuffle)."""
    results = list(comparison.results.all())
    if blind and labels:
        order = list(labels)
        results = sorted((r for r in results if r.pk in labels), key=lambda r: order.index(r.pk))
    elif blind:
        results = blind_order(comparison, results, reviewer)
    named = labels if blind and labels else {r.pk: blind_label(n) for n, r in enumerate(results)}
    verdicts = list(comparison.verdicts.all())
    ratings = list(Rating.objects.filter(result__comparison=comparison).values_list("result_id", "value"))
    rows = []
    for result in results:
        rows.append({
            "result_id": result.pk, "label": named[result.pk] if blind else "",
            "name": named[result.pk] if blind else result.route_label, "route": "" if blind else result.route_key,
            "status": result.status,
            "wins": sum(v.kind == VerdictKind.WINNER and v.winner_id == result.pk for v in verdicts),
            "ups": sum(rid == result.pk and value == Thumb.UP for rid, value in ratings),
            "downs": sum(rid == result.pk and value == Thumb.DOWN for rid, value in ratings),
        })
    top = max((row["wins"] for row in rows), default=0)
    for row in rows:
        row["leads"] = top > 0 and row["wins"] == top
    return {"rows": rows, "verdicts": len(verdicts),
            "ties": sum(v.kind == VerdictKind.TIE for v in verdicts),
            "all_bad": sum(v.kind == VerdictKind.ALL_BAD for v in verdicts)}


# --- History filters -----------------------------------------------------------------------


def needing_review_by(comparisons, user):
    """Finished comparisons of two routes or more on which the user has given no verdict."""
    routes = (Result.objects.filter(comparison=OuterRef("pk")).order_by().values("comparison")
              .annotate(n=Count("pk")).values("n"))
    unfinished = Result.objects.filter(comparison=OuterRef("pk"), status__in=[Status.QUEUED, Status.RUNNING])
    mine = Verdict.objects.filter(comparison=OuterRef("pk"), user=user)
    return (comparisons.annotate(route_count=Subquery(routes)).filter(route_count__gte=2)
            .exclude(Exists(unfinished)).exclude(Exists(mine)))


def with_winner(comparisons, winner, user):
    """Comparisons a member's verdict gave to this route ("tie" / "all_bad": with such a verdict).
    Blind comparisons the user has not judged are left out: the filter would name their routes."""
    if not winner:
        return comparisons
    if winner in (VerdictKind.TIE, VerdictKind.ALL_BAD):
        verdicts = Verdict.objects.filter(comparison=OuterRef("pk"), kind=winner)
    else:
        verdicts = Verdict.objects.filter(comparison=OuterRef("pk"), kind=VerdictKind.WINNER,
                                          winner__route_key=winner)
    return comparisons.filter(Exists(verdicts)).filter(Visibility.named_for(user))


def with_rating(comparisons, rating):
    """"up": some result has a thumb up; "down": some result has a thumb down."""
    value = {"up": Thumb.UP, "down": Thumb.DOWN}.get(rating)
    if value is None:
        return comparisons
    return comparisons.filter(Exists(Rating.objects.filter(result__comparison=OuterRef("pk"), value=value)))


def with_my_verdict(comparisons, user):
    """Annotates reviewed_by_me (for history rows: blind rows stay masked until then)."""
    return comparisons.annotate(reviewed_by_me=Exists(Verdict.objects.filter(comparison=OuterRef("pk"), user=user)))


def review_queue(team, user):
    """The team's comparisons waiting for this member's verdict, newest first: finished, two
    routes or more, not yet judged by them. A viewer of the team (who cannot vote) has none."""
    if team is None or not team.can_run(user):
        return Comparison.objects.none()
    mine = Comparison.objects.visible_to(user).filter(team=team)
    return needing_review_by(mine, user).order_by("-id")
