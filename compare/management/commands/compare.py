"""Compare routes from a script: validates like the form, prints a table of the results (or, with
--json, the comparison as GET /api/comparisons/ID answers it). --image/--mask make it an edit;
--prompt-set runs a batch: one comparison per prompt of the set."""

import json
import mimetypes
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.datastructures import MultiValueDict

from compare import services
from compare.api import idempotency
from compare.api.batches import batch_dict
from compare.api.presenters import comparison_dict
from compare.batches.models import Batch
from compare.batches.planning import BatchRefused, create_batch, plan_batch
from compare.batches.prompt_sets import all_sets, find_set
from compare.forms import ComparisonForm, _as_querydict
from compare.models import Comparison
from compare.teams.models import SubmitRefused, Team
from compare.templatetags.compare_tags import ms, usd


class Asking:
    """What the presenters need of a request: who asks (blind comparisons stay blind to them) and
    absolute URLs, on SITE_URL."""

    def __init__(self, user):
        self.user = user

    def build_absolute_uri(self, path):
        return f"{settings.SITE_URL.rstrip('/')}{path}"


class Command(BaseCommand):
    help = ('Run a comparison: compare "PROMPT" --route KEY --route KEY [--size --quality --n --format] '
            '[--image PATH --mask PATH] [--wait] [--json]; a batch: compare --prompt-set NAME --route KEY ...')

    def add_arguments(self, parser):
        parser.add_argument("prompt", nargs="?", default=None, help="the prompt (not with --prompt-set)")
        parser.add_argument("--route", action="append", dest="routes", default=[], help="route key (repeat)")
        parser.add_argument("--size", default="1024x1024", help="square, portrait, landscape or WxH")
        parser.add_argument("--quality", default="auto", choices=["low", "medium", "high", "auto"])
        parser.add_argument("--n", type=int, default=1)
        parser.add_argument("--format", dest="output_format", default="png", choices=["png", "jpeg", "webp"])
        parser.add_argument("--seed", type=int)
        parser.add_argument("--image", action="append", dest="images", default=[], metavar="PATH",
                            help="an input image: the routes edit it (repeat for several)")
        parser.add_argument("--mask", metavar="PATH", help="a PNG mask for the first image (transparent = edit here)")
        parser.add_argument("--prompt-set", metavar="NAME", help="run a batch: every prompt of this set (its id, "
                            'e.g. "typography" or "set-7", or its name; GET /api/prompt-sets lists them)')
        parser.add_argument("--use-prompt-sizes", action="store_true", help="with --prompt-set: a prompt that "
                            "names a size runs at that size instead of --size")
        parser.add_argument("--user", help="username to run as (default: LOCAL_USERNAME, the account `make run` made)")
        parser.add_argument("--team", type=int, help="team id (default: the user's personal team)")
        parser.add_argument("--wait", action="store_true", help="wait until every route has finished")
        parser.add_argument("--timeout", type=float, default=900, help="seconds to wait at most (with --wait)")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print JSON as the API answers it instead of the table")
        parser.add_argument("--idempotency-key", help="run it once: run again with the same key and arguments "
                            "within 24 h, it shows the first run's comparison instead of starting another")

    def handle(self, *args, prompt, routes, size, quality, n, output_format, seed, user, team, wait, timeout,
               idempotency_key=None, images=(), mask=None, prompt_set=None, use_prompt_sizes=False, as_json=False,
               **options):
        username = user or settings.LOCAL_USERNAME
        author = get_user_model().objects.filter(username=username).first()
        if author is None:
            raise CommandError(f"No user named {username!r}: pass --user USERNAME.")
        chosen = Team.objects.of(author).filter(pk=team).first() if team else Team.personal_for(author)
        if chosen is None:
            raise CommandError(f"{username} is in no team with id {team}.")
        self.as_json, self.asking = as_json, Asking(author)
        data = {"prompt": prompt or "", "routes": routes, "size": size, "quality": quality, "n": n,
                "output_format": output_format}
        if seed is not None:
            data["seed"] = seed
        if prompt_set is not None:
            if prompt is not None or images or mask or idempotency_key:
                raise CommandError("--prompt-set runs the set's prompts as text-to-image: give no PROMPT, --image, "
                                   "--mask or --idempotency-key with it.")
            return self.run_batch(author, chosen, prompt_set, data, use_prompt_sizes, wait, timeout)
        if prompt is None:
            raise CommandError("Give a PROMPT (or --prompt-set NAME for a batch).")
        form = ComparisonForm(data=_as_querydict(data), files=self.read_files(images, mask), team=chosen, user=author)
        if not form.is_valid():
            raise CommandError(_invalid(form.errors))
        try:
            if idempotency_key:
                comparison = self.create_once(form, author, chosen, idempotency_key, {**data, "images": images,
                                                                                     "mask": mask})
            else:
                comparison = services.create_from_form(form, author, chosen)
        except SubmitRefused as refused:
            raise CommandError(f"Invalid comparison:\n  {refused}") from None
        if not as_json:
            self.stdout.write(f"Comparison #{comparison.pk}: {_link(comparison.get_absolute_url())}")
        if wait:
            deadline = time.monotonic() + timeout
            while Comparison.objects.get(pk=comparison.pk).status != "done":
                if time.monotonic() > deadline:
                    self.show(comparison)
                    raise CommandError(f"Still running after {timeout:g} s (is a Celery worker running?).")
                time.sleep(0.25)
        self.show(comparison)

    def read_files(self, images, mask):
        """The --image and --mask files as the form's uploads (checked by the form like an upload)."""
        files = MultiValueDict()
        for field, paths in (("reference_images", images), ("mask", [mask] if mask else [])):
            for path in paths:
                try:
                    content = Path(path).read_bytes()
                except OSError as exc:
                    raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
                kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
                files.appendlist(field, SimpleUploadedFile(Path(path).name, content, content_type=kind))
        return files

    def run_batch(self, author, team, name, data, use_prompt_sizes, wait, timeout):
        """Every prompt of the set as its own comparison, validated like the batch form."""
        prompt_set = find_set(name, team) or next(
            (s for s in all_sets(team) if s.name.casefold() == name.casefold()), None)
        if prompt_set is None:
            known = ", ".join(f"{s.ref} ({s.name})" for s in all_sets(team))
            raise CommandError(f"No prompt set {name!r} in {team}: use one of {known}.")
        data = {**data, "prompt": "(each prompt of the set)"}  # replaced prompt by prompt in plan_batch
        try:
            planned = plan_batch(team=team, user=author, prompt_set=prompt_set, data=_as_querydict(data),
                                         use_prompt_sizes=use_prompt_sizes)
            batch = create_batch(user=author, team=team, prompt_set=prompt_set, planned=planned,
                                         use_prompt_sizes=use_prompt_sizes)
        except BatchRefused as refused:
            raise CommandError("Invalid batch:\n  " + "\n  ".join(refused.problems)) from None
        if not self.as_json:
            self.stdout.write(f"Batch #{batch.pk}: {len(planned)} comparison(s) of {prompt_set.name}: "
                              f"{_link(batch.get_absolute_url())}")
        ids = list(batch.items.values_list("comparison_id", flat=True))
        if wait:
            deadline = time.monotonic() + timeout
            while any(c.status != "done" for c in Comparison.objects.filter(pk__in=ids).prefetch_related("results")):
                if time.monotonic() > deadline:
                    raise CommandError(f"Still running after {timeout:g} s (is a Celery worker running?).")
                time.sleep(0.25)
        if self.as_json:
            batch = Batch.objects.select_related("team", "created_by").get(pk=batch.pk)
            self.stdout.write(json.dumps({**batch_dict(batch, self.asking), "comparison_ids": ids},
                                         cls=DjangoJSONEncoder, indent=1))
            return
        for comparison in Comparison.objects.filter(pk__in=ids).order_by("batch_item__position"):
            self.stdout.write(f"\n#{comparison.pk} {comparison.prompt[:70]}")
            self.print_table(comparison)

    def show(self, comparison):
        if self.as_json:
            found = Comparison.objects.select_related("team", "created_by").get(pk=comparison.pk)
            self.stdout.write(json.dumps(comparison_dict(found, self.asking), cls=DjangoJSONEncoder, indent=1))
        else:
            self.print_table(comparison)

    def create_once(self, form, author, team, key, data):
        """The command calls the services directly (no HTTP), so it takes the API's Idempotency-Key
        rule itself: the key is claimed in the transaction that creates the comparison."""
        if not idempotency.VALID_KEY.match(key):
            raise CommandError("--idempotency-key must be 1 to 255 visible ASCII characters.")
        digest = idempotency.digest_of("manage.py compare", team.pk, data)
        with transaction.atomic():
            found = idempotency.claim(author, key, digest)
            if found is not None:
                if found.request_hash != digest:
                    raise CommandError(f"The idempotency key {key!r} was already used with other arguments: "
                                       "use a new key for a new comparison.")
                comparison = Comparison.objects.filter(pk=json.loads(found.response_body)["id"]).first()
                if comparison is None:
                    raise CommandError(f"The comparison started with the key {key!r} was deleted since.")
                (self.stderr if self.as_json else self.stdout).write(
                    f"Already started with this key (nothing new started): comparison #{comparison.pk}")
                return comparison
            comparison = services.create_from_form(form, author, team)
            idempotency.remember(author, key, 201, json.dumps({"id": comparison.pk}))
        return comparison

    def print_table(self, comparison):
        rows = [("ROUTE", "STATUS", "LATENCY", "QUEUE", "COST", "SOURCE")]
        for r in comparison.results.all():
            if r.is_terminal:
                cost, source = (usd(r.cost_usd) if r.cost_is_known else "unknown"), r.cost_word
            else:
                cost, source = f"{usd(r.estimated_cost_usd)} {r.estimate_word}", "-"
            rows.append((r.route_key, r.status, ms(r.latency_ms), ms(r.queue_ms), cost, source))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        for r in comparison.results.all():
            if r.error:
                self.stdout.write(f"{r.route_key}: {r.error}")


def _invalid(errors):
    lines = [f"{field}: {msg}" for field, msgs in errors.items() for msg in msgs]
    return "Invalid comparison:\n  " + "\n  ".join(lines)


def _link(path):
    """A full link on SITE_URL, or the path and how to get a full link when no address is known
    for this server (rather than half a link)."""
    if settings.SITE_URL:
        return f"{settings.SITE_URL.rstrip('/')}{path}"
    return f"{path} on this server (set SITE_URL to print a full link)"
