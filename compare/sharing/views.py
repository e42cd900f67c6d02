"""Share links: the public pages a token opens (logged out, read-only, one vote per visitor on a
vote link), the images and preview they show, and the team's side (make, list, revoke); the JSON
API of share links is compare/api/share_links.py.

Every public view starts from `ShareLink.objects.opening(token)`: a revoked, expired or unknown
token answers 404, and so does anything the link does not cover. What a page, image or preview
shows is asked of compare/review/visibility.py (a vote link: the images only until the visitor voted)."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from compare.models import Comparison, ResultImage, Status
from compare.review.visibility import Visibility
from compare.sharing.models import Ballot, ExternalVote, ShareKind, ShareLink, VoteRefused
from compare.sharing.preview import preview_png
from compare.teams import views as teams
from compare.teams.addresses import client_address
from compare.views import member_action

# The ballot cookie, one per vote link (path /s/TOKEN). Not "ipc_visitor", the unsigned cookie of
# before, still held for path /s/ by earlier visitors: with two of one name, one would hide the other.
BALLOT_COOKIE = "ipc_ballot"
MAX_HOURS = 24 * 366
MAX_SET = 200
PUBLIC_CACHE = "private, max-age=300"  # short: a revoked link must stop showing soon in browsers too
SET_FILTERS = ("q", "route", "status")


def absolute(request, path):
    base = settings.SITE_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def link_options(hours=None, blind=False, show_costs=True, vote=False):
    """The fields of a new link; ValueError with a message for a bad expiry. Votes are blind."""
    expires_at = None
    if hours not in (None, ""):
        if isinstance(hours, bool):
            raise ValueError("expires_in_hours must be a number of hours.")
        try:
            hours = float(hours)
        except (TypeError, ValueError):
            raise ValueError("expires_in_hours must be a number of hours.") from None
        if not 0 < hours <= MAX_HOURS:
            raise ValueError(f"expires_in_hours must be more than 0 and at most {MAX_HOURS}.")
        expires_at = timezone.now() + timedelta(hours=hours)
    return {"expires_at": expires_at, "blind": bool(blind or vote), "show_costs": bool(show_costs),
            "kind": ShareKind.VOTE if vote else ShareKind.VIEW}


def _form_options(data):
    return link_options(hours=data.get("expires_in_hours", "").strip(), blind=data.get("labels") == "blind",
                        show_costs=bool(data.get("show_costs")), vote=data.get("kind") == ShareKind.VOTE)


# --- the public side -------------------------------------------------------------------------------

def _open(token):
    link = ShareLink.objects.opening(token)
    if link is None:
        raise Http404("This link does not exist, has expired, or was revoked.")
    return link


def _public(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"  # the token never leaves in a Referer; Origin stays for CSRF
    return response


@login_not_required
def share_page(request, token):
    link = _open(token)
    if not link.is_set:
        return _comparison_page(request, link, link.comparison)
    link.mark_opened()
    comparisons = [(c, link.comparison_url(c)) for c in link.comparisons().prefetch_related("results")]
    seen = Visibility.for_link(link, _ballot(request, link))
    context = {"link": link, "comparisons": comparisons, "seen": seen,
               "page_url": absolute(request, link.get_absolute_url()),
               "preview_url": absolute(request, reverse("sharing:share-preview", args=[link.token])),
               "og_title": f"{len(comparisons)} image comparisons",
               "og_description": "Prompts sent to several image routes, compared side by side"
                                 + ("" if seen.route_names else " (route names hidden)") + ".",
               "og_image_alt": "Contact sheet of the shared comparisons"}
    return _public(render(request, "sharing/share_set.html", context))


@login_not_required
def share_comparison(request, token, pk):
    link = _open(token)
    return _comparison_page(request, link, get_object_or_404(link.comparisons(), pk=pk))


def _ballot(request, link):
    """This visitor's ballot for the link (a signed cookie scoped to the link), or None."""
    return Ballot.read(link, request.COOKIES.get(BALLOT_COOKIE)) if link.votes else None


def _comparison_page(request, link, comparison, notice="", status=200):
    link.mark_opened()
    ballot = _ballot(request, link)
    issued = link.votes and ballot is None
    if issued:
        ballot = Ballot.issue()
    seen = Visibility.for_link(link, ballot, comparison)
    cards = link.labelled(comparison.results.prefetch_related("images"))
    my_vote = ballot.vote(link, comparison) if link.votes else None
    page = link.comparison_url(comparison)
    preview = (reverse("sharing:share-preview", args=[link.token]) if page == link.get_absolute_url()
               else reverse("sharing:share-comparison-preview", args=[link.token, comparison.pk]))
    done = comparison.status == "done"
    context = {
        "link": link, "comparison": comparison, "cards": cards, "done": done, "seen": seen, "notice": notice,
        "labels": {result.pk: label for label, result in cards},
        "finished": sum(r.is_terminal for _, r in cards), "my_vote": my_vote,
        "my_vote_label": next((label for label, r in cards if my_vote and r.pk == my_vote.winner_id), None),
        "page_url": absolute(request, page), "preview_url": absolute(request, preview),
        "set_url": link.get_absolute_url() if link.is_set else None,
        "og_title": Truncator(" ".join(comparison.prompt.split())).chars(90),
        "og_description": (f"{len(cards)} image routes compared side by side · {comparison.params.get('size')}"
                           f" · quality {comparison.params.get('quality')}"
                           + ("" if Visibility.for_preview(link, comparison).route_names else " · route names hidden")),
        "og_image_alt": f"Contact sheet of the {len(cards)} results",
    }
    response = render(request, "sharing/share_comparison.html", context, status=status)
    if issued:
        _set_ballot(request, response, link, ballot)
    return _public(response)


def _set_ballot(request, response, link, ballot):
    response.set_cookie(BALLOT_COOKIE, ballot.signed(link), max_age=365 * 24 * 3600, path=link.get_absolute_url(),
                        httponly=True, samesite="Lax", secure=request.is_secure())


@login_not_required
@require_POST
def vote_shared(request, token, pk):
    """One blind verdict per ballot (signed for this link, kept hashed) and at most
    SHARE_VOTES_PER_ADDRESS per client address, apart from the team's verdicts."""
    link = _open(token)
    comparison = get_object_or_404(link.comparisons(), pk=pk)
    if not link.votes:
        raise Http404("This link does not take votes.")
    back = redirect(link.comparison_url(comparison))
    choice = request.POST.get("verdict", "")
    if comparison.status != "done" or not (choice in ("tie", "all_bad") or choice.isdigit()):
        return back
    winner = None
    if choice.isdigit():
        winner = get_object_or_404(comparison.results.filter(status=Status.SUCCEEDED), pk=int(choice))
    ballot = _ballot(request, link)
    if ballot is None:
        return _comparison_page(request, link, comparison, status=400,
                                notice="Your ballot for this link is missing: vote from this page "
                                       "(your browser must keep this link's cookie).")
    try:
        ExternalVote.cast(link, comparison, ballot, client_address(request), "winner" if winner else choice, winner)
    except VoteRefused as refused:
        return _comparison_page(request, link, comparison, notice=str(refused), status=429)
    return back


def _shared_image(request, token, pk, field):
    link = _open(token)
    image = get_object_or_404(ResultImage.objects.filter(result__comparison__in=link.comparisons())
                              .select_related("result__comparison"), pk=pk)
    seen = Visibility.for_link(link, _ballot(request, link), image.result.comparison)
    if not seen.images:
        raise Http404("Images are held back until every route has finished.")
    if field == "original" and not seen.sizes:  # the original file tells its size and format
        raise Http404("The original opens once you have voted.")
    try:
        handle = getattr(image, field).open("rb")
    except FileNotFoundError:
        raise Http404("The image file is missing from storage.") from None
    response = FileResponse(handle, content_type="image/webp" if field == "thumbnail" else f"image/{image.format}")
    response["Cache-Control"] = PUBLIC_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    return _public(response)


@login_not_required
def shared_image(request, token, pk):
    return _shared_image(request, token, pk, "original")


@login_not_required
def shared_thumbnail(request, token, pk):
    return _shared_image(request, token, pk, "thumbnail")


@login_not_required
def share_preview(request, token, pk=None):
    link = _open(token)
    if pk is None and link.is_set:
        comparison = None
    else:
        comparison = get_object_or_404(link.comparisons(), pk=pk or link.comparison_id)
    response = HttpResponse(preview_png(link, comparison), content_type="image/png")
    response["Cache-Control"] = PUBLIC_CACHE
    return _public(response)


# --- the team's side -------------------------------------------------------------------------------

@require_POST
@member_action("make share links")
def create_share_link(request, comparison):
    try:
        options = _form_options(request.POST)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect(comparison)
    if names_routes(options) and not Visibility.for_member(comparison, request.user).named_links:
        messages.error(request, blind_refusal(comparison))
        return redirect(comparison)
    link = ShareLink.objects.create(team=comparison.team, comparison=comparison, created_by=request.user, **options)
    messages.success(request, f"Share link made: {absolute(request, link.get_absolute_url())}")
    return redirect(f"{comparison.get_absolute_url()}#share")  # the panel opens again, the new link in it


def names_routes(options):
    return Visibility.link_names_routes(options["blind"], options["kind"] == ShareKind.VOTE)


def public_url(request, link):
    """The link's address, or None for a member the policy does not let open it."""
    return absolute(request, link.get_absolute_url()) if Visibility.may_open_link(link, request.user) else None


def blind_refusal(comparison):
    return (f"Comparison #{comparison.pk} is in blind review and you have not given your verdict: until you do, "
            "only a view-only link with blind labels can be made (a named link, or a vote link once you voted "
            "through it, would show you the routes).")


def team_links(request):
    """GET: the team's live links (a form prefilled from ?q=&route=&status= shares a set).
    POST: share the comparisons matching a history filter (q, route, status) or the ticked
    `comparison` ids, frozen now."""
    team = teams.current_team(request)
    if request.method == "POST":
        return _create_set_link(request, team)
    links = (ShareLink.objects.filter(team=team).live().select_related("created_by", "comparison").order_by("-created_at", "-id")
             .annotate(vote_count=Count("external_votes")))
    for link in links:
        link.public_url = public_url(request, link)
    context = {"team": team, "links": links, "can_share": team.can_run(request.user),
               "filter": {name: request.GET.get(name, "") for name in SET_FILTERS}}
    return render(request, "sharing/team_links.html", context)


def _create_set_link(request, team):
    if refused := teams.viewer_refusal(request, team, "make share links", "sharing:team-links"):
        return refused
    try:
        options = _form_options(request.POST)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("sharing:team-links")
    applied = {name: request.POST.get(name, "").strip() for name in SET_FILTERS if request.POST.get(name, "").strip()}
    queryset = Comparison.objects.filter(team=team)
    ids = [int(value) for value in request.POST.getlist("comparison") if value.isdigit()]
    if ids:
        queryset = queryset.filter(pk__in=ids)
        applied["ids"] = ids
    queryset = (queryset.search(applied.get("q", "")).with_route(applied.get("route"))
                .with_status(applied.get("status")))
    chosen = list(queryset.values_list("pk", flat=True)[:MAX_SET])
    if not chosen:
        messages.error(request, "No comparison of this team matches that filter: nothing to share.")
        return redirect("sharing:team-links")
    blind = Comparison.objects.filter(pk__in=chosen).exclude(Visibility.named_for(request.user)).first()
    if names_routes(options) and blind is not None:
        messages.error(request, blind_refusal(blind))
        return redirect("sharing:team-links")
    link = ShareLink.objects.create(team=team, comparison_ids=chosen, filter=applied, created_by=request.user,
                                    **options)
    messages.success(request, f"Share link for {len(chosen)} comparison{'s' if len(chosen) != 1 else ''}: "
                              f"{absolute(request, link.get_absolute_url())}")
    return redirect("sharing:team-links")


@require_POST
def revoke_share_link(request, pk):
    link = get_object_or_404(ShareLink.objects.of_teams(request.user), pk=pk)
    if not link.team.can_run(request.user):
        messages.error(request, f"Viewers of {link.team} cannot revoke share links.")
    elif link.revoke():
        messages.success(request, "Link revoked: it answers 404 from now on, images and preview included.")
    following = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(following, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return redirect(following)
    return redirect("sharing:team-links")
