"""Who sees what of a comparison: the one place that decides it, for every viewer and surface.

Every page, htmx partial, API answer, export, share or vote page and preview image asks a
Visibility what it may show instead of looking at `blind` or `hold_images_until_done` itself:

- a team member (or viewer) of a blind comparison, before their own verdict: the images only, in
  their own shuffled order under letters; no route name, latency, cost or error text, nor the
  team's verdicts or the outside votes (no herding); no named share link. After the verdict (or
  when the comparison is not blind): everything.
- a share-link visitor: what the link was made to show (route names unless it is blind, costs
  unless hidden), latency, sizes and the team's verdict; never the outside votes.
- a vote-link visitor: before voting, the images (thumbnails) and the prompt only, so nothing
  can steer the vote; after voting (by their own ballot), route names and the figures too.
- an export and a preview image: as the member asking, or as the link they are drawn for.
- a webhook delivery or a notification e-mail: sent to whatever address a team owner chose, read
  by no one whose verdict we know, so as a named view link without images: a blind comparison
  names no route and shows no latency or cost (only how many calls ended how); images never go.

On every surface, images are held while `hold_images_until_done` is on and a route is still
running. Reads only attributes and related managers of the rows it is given (no model import),
so the models may ask it too."""

from dataclasses import dataclass, replace

from django.db.models import Q


@dataclass(frozen=True)
class Visibility:
    """What one viewer may see of one comparison (or, for a set link, of its list)."""

    viewer: str  # member, viewer, share, vote, export, preview: who is asking
    route_names: bool  # route keys and labels, error text, request details, the card order
    latency: bool  # measured latency, queue wait, timings, the race timeline
    costs: bool  # reported and estimated costs
    sizes: bool  # pixel sizes, formats and bytes of the images, and the original files
    images: bool  # False while the images are held until every route has finished
    team_verdict: bool  # the team's verdicts, thumbs and comments of others
    outside_votes: bool  # what visitors of vote links chose (a count alone is always fine)
    named_links: bool = False  # may make a share link that names the routes

    @property
    def masked(self):
        """Route names hidden: the blind letters stand in for them."""
        return not self.route_names

    # --- team members -------------------------------------------------------------------------

    @classmethod
    def for_member(cls, comparison, user, has_verdict=None, results=None, can_run=None):
        """A signed-in user of the comparison's team. has_verdict (their own verdict given),
        results and can_run (owner or member, not viewer): already read by the caller, else here."""
        if has_verdict is None:
            has_verdict = bool(getattr(user, "is_authenticated", False)) and \
                comparison.verdicts.filter(user=user).exists()
        sees = not comparison.blind or bool(has_verdict)
        if can_run is None:
            can_run = comparison.team.can_run(user)
        return cls(viewer="member" if can_run else "viewer", route_names=sees, latency=sees, costs=sees,
                   sizes=True, images=not images_held(comparison, results), team_verdict=sees,
                   outside_votes=sees, named_links=sees and can_run)

    @classmethod
    def for_rows(cls, rows, user):
        """for_member on each comparison of a page (history, the API's list), set as ``row.seen``:
        the rows come annotated by ``with_my_verdict`` (reviewed_by_me), with their results
        prefetched and their team joined, and the reader's role is read once per team, so a
        page costs the same queries whatever its size."""
        roles = {}
        for row in rows:
            if row.team_id not in roles:
                roles[row.team_id] = row.team.can_run(user)
            row.seen = cls.for_member(row, user, has_verdict=row.reviewed_by_me, results=row.results.all(),
                                      can_run=roles[row.team_id])
        return rows

    @staticmethod
    def named_for(user):
        """Comparisons whose route names this member sees, as a filter: a search by route or by
        winner keeps to these (over the others it would name their routes)."""
        return Q(blind=False) | Q(pk__in=user.verdicts.values("comparison_id"))

    @staticmethod
    def link_names_routes(blind, votes):
        """A share link that shows route names: a named one, or a vote link (after a vote)."""
        return not blind or votes

    @classmethod
    def may_open_link(cls, link, user):
        """Whether a member may see a link's address: one that names routes only when they see
        the route names of everything it opens (else opening it would unmask them)."""
        if not cls.link_names_routes(link.blind, link.votes):
            return True
        return not link.comparisons().exclude(cls.named_for(user)).exists()

    @classmethod
    def for_export(cls, comparison, user):
        """A ZIP or CSV of a comparison: what the member sees, held images left out."""
        return replace(cls.for_member(comparison, user), viewer="export")

    @classmethod
    def for_webhook(cls, comparison):
        """A webhook delivery or notification e-mail about a comparison (compare/notifications/notifications.py):
        no reader's verdict can unmask a blind comparison there, so a blind one shows no route
        names, latency or costs at all; no images, sizes or verdicts are sent."""
        named = not comparison.blind
        return cls(viewer="webhook", route_names=named, latency=named, costs=named, sizes=False, images=False,
                   team_verdict=False, outside_votes=False)

    # --- public links -------------------------------------------------------------------------

    @classmethod
    def for_share_link(cls, link, comparison=None):
        """A visitor of a view link (comparison None: the list page of a set link)."""
        return cls(viewer="share", route_names=not link.blind, latency=True, costs=link.show_costs, sizes=True,
                   images=comparison is None or not images_held(comparison), team_verdict=True,
                   outside_votes=False)

    @classmethod
    def for_vote_link(cls, link, ballot, comparison=None):
        """A visitor of a vote link: the images only until their ballot has a vote on this
        comparison, then the routes and figures (as a view link would show them)."""
        voted = comparison is not None and ballot is not None and ballot.has_voted(link, comparison)
        held = comparison is not None and images_held(comparison)
        return cls(viewer="vote", route_names=voted, latency=voted, costs=voted and link.show_costs,
                   sizes=voted, images=not held, team_verdict=voted, outside_votes=False)

    @classmethod
    def for_link(cls, link, ballot=None, comparison=None):
        return cls.for_vote_link(link, ballot, comparison) if link.votes else cls.for_share_link(link, comparison)

    @classmethod
    def for_preview(cls, link, comparison=None):
        """The preview image a link unfurls with: seen by anyone the link is pasted to, so no
        figures; route names only on a link that shows them; held images not drawn."""
        return cls(viewer="preview", route_names=not link.blind and not link.votes, latency=False, costs=False,
                   sizes=False, images=comparison is None or not images_held(comparison), team_verdict=False,
                   outside_votes=False)


def images_held(comparison, results=None):
    """Images held back from everyone: the comparison holds them until every route has
    finished, and one has not."""
    if not comparison.hold_images_until_done:
        return False
    results = comparison.results.all() if results is None else results
    return not all(r.is_terminal for r in results)
