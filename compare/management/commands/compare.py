"""Compare routes from a script: validates like the form, prints a table of the results."""

import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from compare import idempotency, services
from compare.forms import ComparisonForm, _as_querydict
from compare.models import Comparison, SubmitRefused, Team
from compare.templatetags.compare_tags import ms, usd


class Command(BaseCommand):
    help = 'Run a comparison: compare "PROMPT" --route KEY --route KEY [--size --quality --n --format] [--wait]'

    def add_arguments(self, parser):
        parser.add_argument("prompt")
        parser.add_argument("--route", action="append", dest="routes", default=[], help="route key (repeat)")
        parser.add_argument("--size", default="1024x1024", help="square, portrait, landscape or WxH")
        parser.add_argument("--quality", default="auto", choices=["low", "medium", "high", "auto"])
        parser.add_argument("--n", type=int, default=1)
        parser.add_argument("--format", dest="output_format", default="png", choices=["png", "jpeg", "webp"])
        parser.add_argument("--seed", type=int)
        parser.add_argument("--user", help="username to run as (default: LOCAL_USERNAME, the account `make run` made)")
        parser.add_argument("--team", type=int, help="team id (default: the user's personal team)")
        parser.add_argument("--wait", action="store_true", help="wait until every route has finished")
        parser.add_argument("--timeout", type=float, default=900, help="seconds to wait at most (with --wait)")
        parser.add_argument("--idempotency-key", help="run it once: run again with the same key and arguments "
                            "within 24 h, it shows the first run's comparison instead of starting another")

    def handle(self, *args, prompt, routes, size, quality, n, output_format, seed, user, team, wait, timeout,
               idempotency_key=None, **options):
        username = user or settings.LOCAL_USERNAME
        author = get_user_model().objects.filter(username=username).first()
        if author is None:
            raise CommandError(f"No user named {username!r}: pass --user USERNAME.")
        chosen = Team.objects.of(author).filter(pk=team).first() if team else Team.personal_for(author)
        if chosen is None:
            raise CommandError(f"{username} is in no team with id {team}.")
        data = {"prompt": prompt, "routes": routes, "size": size, "quality": quality, "n": n,
                "output_format": output_format}
        if seed is not None:
            data["seed"] = seed
        form = ComparisonForm(data=_as_querydict(data), team=chosen, user=author)
        if not form.is_valid():
            lines = [f"{field}: {msg}" for field, msgs in form.errors.items() for msg in msgs]
            raise CommandError("Invalid comparison:\n  " + "\n  ".join(lines))
        try:
            if idempotency_key:
                comparison = self.create_once(form, author, chosen, idempotency_key, data)
            else:
                comparison = services.create_from_form(form, author, chosen)
        except SubmitRefused as refused:
            raise CommandError(f"Invalid comparison:\n  {refused}") from None
        self.stdout.write(f"Comparison #{comparison.pk}: {settings.SITE_URL}{comparison.get_absolute_url()}")
        if wait:
            deadline = time.monotonic() + timeout
            while Comparison.objects.get(pk=comparison.pk).status != "done":
                if time.monotonic() > deadline:
                    self.print_table(comparison)
                    raise CommandError(f"Still running after {timeout:g} s (is a Celery worker running?).")
                time.sleep(0.25)
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
                self.stdout.write(f"Already started with this key (nothing new started): comparison #{comparison.pk}")
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
