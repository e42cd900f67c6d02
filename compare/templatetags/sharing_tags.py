"""For the share panel on the team's results page: this comparison's links and outside votes."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def share_state(context, comparison):
    from compare.sharing import absolute

    request = context.get("request")
    links = list(comparison.share_links.select_related("created_by"))
    for link in links:
        link.public_url = absolute(request, link.get_absolute_url()) if request else link.get_absolute_url()
    outside = comparison.external_votes.tally()
    return {"can_share": request is not None and comparison.team.can_run(request.user), "links": links,
            "live": sum(link.is_live for link in links), "outside": outside,
            "outside_count": sum(count for _, count in outside)}
