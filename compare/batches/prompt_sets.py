"""Prompt sets (issue 7): the built-in sets (compare/batches/prompt_sets.json, read-only) and a team's own
saved prompts, as plain views (PromptView, PromptSetView) that batches, benchmarks, the compare
page's picker and the API read. Another team's prompt or set looks the same as none."""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.http import Http404

from providers.base import SIZE_PRESETS, parse_size

from compare.batches.models import DEFAULT_SET_NAME, Prompt, PromptSet

BUILTIN_PATH = Path(__file__).with_name("prompt_sets.json")


@dataclass(frozen=True)
class PromptView:
    ref: str  # "typo-cafe-menu" (built-in) or "saved-12" (a team's)
    title: str
    text: str
    size: str = ""  # a suggested WIDTHxHEIGHT, or ""
    pk: int | None = None  # a team's saved prompt


@dataclass(frozen=True)
class PromptSetView:
    ref: str  # "typography" (built-in) or "set-7" (a team's)
    name: str
    description: str
    prompts: tuple
    builtin: bool
    pk: int | None = None

    def as_dict(self):
        return {"id": self.ref, "name": self.name, "description": self.description, "builtin": self.builtin,
                "prompts": [{"id": p.ref, "title": p.title, "text": p.text, "size": p.size or None}
                            for p in self.prompts]}


@functools.cache
def builtin_sets():
    """The built-in sets, read once. A malformed file fails loudly (tests/batches/test_prompt_sets.py)."""
    data = json.loads(BUILTIN_PATH.read_text(encoding="utf-8"))
    sets = []
    for entry in data["sets"]:
        prompts = []
        for item in entry["prompts"]:
            if item.get("size"):
                parse_size(item["size"])  # ValueError if it is not WIDTHxHEIGHT
            prompts.append(PromptView(ref=item["id"], title=item["title"], text=item["text"], size=item.get("size", "")))
        sets.append(PromptSetView(ref=entry["id"], name=entry["name"], description=entry.get("description", ""),
                                  prompts=tuple(prompts), builtin=True))
    return tuple(sets)


def _saved(prompt):
    return PromptView(ref=prompt.ref, title=prompt.title or title_of(prompt.text), text=prompt.text, size=prompt.size,
                  pk=prompt.pk)


def title_of(text):
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def team_sets(team):
    rows = PromptSet.objects.filter(team=team).prefetch_related("prompts")
    return [PromptSetView(ref=row.ref, name=row.name, description="", builtin=False, pk=row.pk,
                          prompts=tuple(_saved(p) for p in row.prompts.all())) for row in rows]


def all_sets(team):
    return list(builtin_sets()) + team_sets(team)


def find_set(ref, team):
    """The built-in set with this slug, or the team's own set "set-<pk>"; None otherwise (another
    team's set looks the same as none)."""
    ref = str(ref or "")
    for found in builtin_sets():
        if found.ref == ref:
            return found
    if ref.startswith("set-") and ref[4:].isdigit():
        row = PromptSet.objects.filter(team=team, pk=int(ref[4:])).first()
        if row is not None:
            return PromptSetView(ref=row.ref, name=row.name, description="", builtin=False, pk=row.pk,
                                 prompts=tuple(_saved(p) for p in row.prompts.all()))
    return None


def find_prompt(ref, team):
    ref = str(ref or "")
    for found in builtin_sets():
        for prompt in found.prompts:
            if prompt.ref == ref:
                return prompt
    if ref.startswith("saved-") and ref[6:].isdigit():
        row = Prompt.objects.filter(team=team, pk=int(ref[6:])).first()
        if row is not None:
            return _saved(row)
    return None


def initial_from_prompt(ref, team):
    """The new-comparison form's initial prompt (and suggested size) from ?prompt_from=; 404 for
    a prompt that is not built in nor the team's."""
    prompt = find_prompt(ref, team)
    if prompt is None:
        raise Http404("No such prompt in your team's prompt sets.")
    initial = {"prompt": prompt.text}
    if prompt.size:
        initial.update(_size_initial(prompt.size))
    return initial


def _size_initial(size):
    width, height = parse_size(size)
    preset = next((name for name, dims in SIZE_PRESETS.items() if dims == (width, height)), None)
    return {"size": preset} if preset else {"size": "custom", "width": width, "height": height}


def save_prompt(team, user, text, set_name="", title=""):
    """Save a prompt into the team's set of that name (made if new), or into its default set:
    (prompt, prompt set). Names and titles are trimmed to their fields' lengths."""
    set_name = " ".join(set_name.split())[:100] or DEFAULT_SET_NAME
    title = " ".join(title.split())[:120]
    with transaction.atomic():
        prompt_set, _ = PromptSet.objects.get_or_create(team=team, name=set_name, defaults={"created_by": user})
        saved = Prompt.objects.create(team=team, prompt_set=prompt_set, title=title, text=text, created_by=user)
    return saved, prompt_set
