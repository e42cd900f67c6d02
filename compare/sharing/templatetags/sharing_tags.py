"""For the share panel on the team's results page: this comparison's links and outside votes, as
compare/review/visibility.py lets this member see them."""

from django import template

from compare.review.visibility import Visibility

register = template.Library()


@register.simple_tag(takes_context=True)
def share_state(context, comparison):
    from compare.sharing.views import public_url

    request = context.get("request")
    links = list(comparison.share_links.select_related("created_by"))
    for link in links:
        link.public_url = public_url(request, link) if request else None
    # The tally names the routes visitors chose: only for whom the policy shows them (a count is fine).
    seen = Visibility.for_member(comparison, request.user) if request is not None else None
    outside = comparison.external_votes.tally()
    return {"can_share": request is not None and comparison.team.can_run(request.user), "links": links,
            "live": sum(link.is_live for link in links),
            "outside": outside if seen is not None and seen.outside_votes else [],
            "outside_count": sum(count for _, count in outside),
            "named_links": seen is not None and seen.named_links}
