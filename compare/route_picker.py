"""The compare page's route picker: the routes with their estimated cost for whatever the form
holds right now, the team's budget against what submitting would reserve, and what running the
chosen prompt set as a batch would cost. The new-comparison page and the batch form's page
(when a batch is refused) both render it."""

import dataclasses
from decimal import Decimal

from providers.base import FORMATS, QUALITIES, SIZE_PRESETS, ImageRequest, parse_size

from compare import catalog, pricing
from compare.batches.prompt_sets import all_sets, find_set
from compare.forms import SIZE_CHOICES


def picker_context(form):
    """Routes with their estimated cost for whatever parameters the form holds right now."""
    draft = draft_request(form.data if form.is_bound else form.initial)
    choices = catalog.route_choices(draft, team=form.team)
    prices = pricing.team_prices(form.team)
    for choice in choices:  # the team's own price, where it entered one, wins over the catalog
        choice.cost = pricing.call_cost(choice.route, draft, prices.get(choice.key))
        choice.estimate_usd = pricing.estimate_of(choice.cost)
    budget = form.team.budget_state() if form.team is not None and form.team.monthly_budget_usd is not None else None
    selected = set(form.data.getlist("routes")) if form.is_bound else set(form.initial.get("routes", []))
    picked = [c for c in choices if c.key in selected]
    known = [c.estimate_usd for c in picked if c.estimate_usd is not None]
    # What submitting now would reserve (unpriced routes at the ceiling), said beside the estimate
    # before submit; the same rule refuses it after submit (Team.check_budget).
    reserve = sum((c.cost.usd for c in picked), Decimal(0))
    return {"form": form, "choices": choices, "selected": selected, "draft": draft, "size_choices": SIZE_CHOICES,
            "unconfigured": [c for c in choices if not c.configured],
            "param_fields": [form[name] for name in ("size", "width", "height", "quality", "output_format", "n", "seed")],
            "edit_fields": [form[name] for name in ("reference_images", "mask", "references_from")],
            "total_estimate": sum(known) if known else None,
            "unknown_estimates": [c.key for c in picked if c.estimate_usd is None],
            "batch_estimate": batch_estimate(form, draft, picked, prices),
            "budget": budget, "ceiling": pricing.ceiling(), "reserve": reserve,
            "over_budget": budget is not None and budget.would_exceed(reserve)}


def batch_estimate(form, draft, picked, prices):
    """What running the chosen prompt set as a batch would cost by the catalog: each prompt at its
    own suggested size where that box is ticked. None until routes are picked."""
    if not picked:
        return None
    data = form.data if form.is_bound else {}
    prompt_set = find_set(data.get("prompt_set"), form.team) if data.get("prompt_set") else None
    prompt_set = prompt_set or next(iter(all_sets(form.team)), None)
    if prompt_set is None or not prompt_set.prompts:
        return None
    own_sizes = not form.is_bound or bool(data.get("use_prompt_sizes"))
    total, unknown = Decimal(0), False
    for prompt in prompt_set.prompts:
        request = draft
        if own_sizes and prompt.size:
            width, height = parse_size(prompt.size)
            request = dataclasses.replace(draft, width=width, height=height)
        for choice in picked:
            value = pricing.estimate_of(pricing.call_cost(choice.route, request, prices.get(choice.key)))
            unknown = unknown or value is None
            total += value or 0
    return {"set": prompt_set, "prompts": len(prompt_set.prompts), "usd": total, "unknown": unknown}


def draft_request(data):
    """An ImageRequest from the form's raw values, leniently, for live estimates while typing."""
    size = (data.get("size") or "square").strip().lower()
    try:
        dims = (int(data.get("width")), int(data.get("height"))) if size == "custom" else parse_size(size)
    except (TypeError, ValueError):
        dims = SIZE_PRESETS["square"]
    try:
        n = min(max(int(data.get("n") or 1), 1), 10)
    except ValueError:
        n = 1
    quality = data.get("quality") if data.get("quality") in QUALITIES else "auto"
    output_format = data.get("output_format") if data.get("output_format") in FORMATS else "png"
    return ImageRequest(prompt=data.get("prompt") or "", width=dims[0], height=dims[1], quality=quality,
                        output_format=output_format, n=n)
