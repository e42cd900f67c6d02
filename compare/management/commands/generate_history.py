"""Bulk-create a large, realistic history (for bench/: history page, search and API list at scale).

    manage.py generate_history --comparisons 100000 --results-per 5

Comparisons get prompts from a fixed vocabulary (so a search word matches a known share of them),
`created_at` spread over the past year (newest has the highest id), and `--results-per` terminal
results each on a mix of real route keys and statuses, with latency, queue wait and cost filled in.
No image files are written: the history page and the API list never read them.
With an author (--username), a share of the comparisons (--verdicts, default 0.2) also get that
author's verdict (mostly a winner among the succeeded results, else a tie or "all bad"), so the
leaderboard's Bradley-Terry scores have votes to fit. Deterministic for a given --seed.

Fast enough for 100,000 comparisons / 500,000 results in a benchmark: rows are built as plain
tuples with ids given here (no model instances, no per-row save), then written with one
`executemany` per batch on SQLite and with `COPY ... FROM STDIN` on PostgreSQL, one transaction
per batch; values go through each field's own `get_db_prep_save`, and columns this command does not
set get the field's default, so the rows are what the ORM would write.
"""

import json
import random
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Max
from django.utils import timezone

from collections import defaultdict

from compare.insights import models as rollups
from compare.insights.models import JudgedComparison, RouteDay
from compare.models import Comparison, CostSource, Result, Status
from compare.review.models import Verdict, VerdictKind

ROUTES = [
    ("openai:gpt-image-2", "OpenAI (gpt-image-2)"),
    ("azure:gpt-image-2", "Azure OpenAI (gpt-image-2)"),
    ("fal:openai/gpt-image-2", "fal.ai (openai/gpt-image-2)"),
    ("replicate:openai/gpt-image-2", "Replicate (openai/gpt-image-2)"),
    ("openrouter:openai/gpt-image-2", "OpenRouter (openai/gpt-image-2)"),
    ("vercel:openai/gpt-image-2", "Vercel AI Gateway (openai/gpt-image-2)"),
    ("piapi:gpt-image-2", "PiAPI (gpt-image-2)"),
    ("piapi:gpt-image-2-preview", "PiAPI (gpt-image-2-preview)"),
    ("kie:gpt-image-2", "Kie.ai (gpt-image-2)"),
    ("apiframe:gpt-image-2", "Apiframe (gpt-image-2)"),
    ("wavespeed:openai/gpt-image-2", "WaveSpeed (openai/gpt-image-2)"),
    ("sandbox:fast", "Sandbox fast"),
    ("sandbox:slow", "Sandbox slow"),
]
SUBJECTS = ["a red fox", "a lighthouse", "a city street", "a bowl of ramen", "an astronaut", "a mountain lake",
            "a vintage car", "a robot", "a cat", "a forest path", "a sailing ship", "a desert canyon", "a portrait",
            "a castle", "a coffee cup", "a hummingbird", "a subway station", "a bicycle", "a waterfall", "a dragon"]
PLACES = ["in snow", "at night", "under neon lights", "in the rain", "at golden hour", "on the moon",
          "in a watercolor style", "as a pencil sketch", "in fog", "on a beach", "in autumn", "in isometric 3D"]
EXTRAS = ["photorealistic", "studio lighting", "35mm film", "wide angle", "highly detailed", "minimalist",
          "pastel colors", "dramatic shadows", "cinematic", "soft focus"]
SIZES = ["1024x1024", "1024x1536", "1536x1024"]
QUALITIES = ["low", "medium", "high", "auto"]
# Terminal statuses with their share: mostly successes, as a real history is.
STATUS_WEIGHTS = [(Status.SUCCEEDED, 86), (Status.FAILED, 9), (Status.TIMED_OUT, 3), (Status.CANCELLED, 2)]


COSTS = [Decimal(c) for c in ("0.006", "0.053", "0.211", "0.04")]
ZERO = timedelta(0)
ERROR_CODES = {Status.FAILED: "server_error", Status.TIMED_OUT: "timeout", Status.CANCELLED: "cancelled"}


class Writer:
    """Inserts plain rows of one model, all columns, ids given: executemany on SQLite, COPY on
    PostgreSQL. `row(values)` fills the columns not given with the field's default and prepares
    each value as the field would (`get_db_prep_save`), with shortcuts for plain types."""

    def __init__(self, model):
        self.model = model
        self.db = connections[DEFAULT_DB_ALIAS]
        self.fields = model._meta.concrete_fields
        self.defaults = {field.attname: self._prep(field, field.get_default()) for field in self.fields}
        self.columns = [field.column for field in self.fields]
        self.sqlite = self.db.vendor == "sqlite"

    def _prep(self, field, value):
        return field.get_db_prep_save(value, self.db)

    def row(self, values):
        out = []
        for field in self.fields:
            name = field.attname
            if name not in values:
                out.append(self.defaults[name])
                continue
            value = values[name]
            if value is None or type(value) in (int, float, str, bool):
                out.append(value)
            elif type(value) is datetime and self.sqlite and value.utcoffset() == ZERO:
                out.append(str(value.replace(tzinfo=None)))  # what the SQLite backend stores (UTC, naive)
            elif type(value) is dict and self.sqlite:
                out.append(json.dumps(value))
            else:
                out.append(self._prep(field, value))
        return tuple(out)

    def write(self, rows):
        if not rows:
            return
        table = self.db.ops.quote_name(self.model._meta.db_table)
        names = ", ".join(self.db.ops.quote_name(c) for c in self.columns)
        with self.db.cursor() as cursor:
            if self.db.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


class Command(BaseCommand):
    help = "Bulk-create N comparisons with M results each (a history at scale, for benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--comparisons", type=int, default=1000, help="how many comparisons (default 1000)")
        parser.add_argument("--results-per", type=int, default=5, help="results per comparison (default 5)")
        parser.add_argument("--batch", type=int, default=5000, help="comparisons per insert batch")
        parser.add_argument("--seed", type=int, default=6)
        parser.add_argument("--verdicts", type=float, default=0.2,
                            help="share of comparisons the author gives a verdict on (default 0.2; needs --username)")
        parser.add_argument("--username", default=None,
                            help="author of the comparisons (and, with teams, their team is the author's personal "
                                 "team); default: no author")

    def handle(self, *args, comparisons, results_per, batch, seed, username, verdicts=0.2, **options):
        if comparisons < 1 or not 1 <= results_per <= len(ROUTES):
            raise CommandError(f"--comparisons must be >= 1 and --results-per between 1 and {len(ROUTES)}.")
        user = None
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named {username!r}.")
        from compare.teams.models import Team

        # Comparisons belong to a team: the owner's personal team (the one its history page
        # shows), else a team made for the generated history.
        team = Team.personal_for(user) if user is not None else Team.objects.create(name="generated history")
        rng = random.Random(seed)
        now = timezone.now()
        span = timedelta(days=365)
        started = time.perf_counter()
        writers = {model: Writer(model) for model in (Comparison, Result, Verdict)}
        next_id = {model: (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1 for model in writers}
        weights = [w for _, w in STATUS_WEIGHTS]
        statuses = [s for s, _ in STATUS_WEIGHTS]
        cum_weights = [sum(weights[:i + 1]) for i in range(len(weights))]
        route_weight = {key: len(ROUTES) - i for i, (key, _) in enumerate(ROUTES)}  # earlier routes win more
        # The leaderboard's rollups of these rows (compare/insights/models.py), summed as they are
        # made with the fold's own arithmetic, written at the end; the results are written folded.
        cells = defaultdict(rollups.Sums)
        made = 0
        while made < comparisons:
            count = min(batch, comparisons - made)
            rows = {Comparison: [], Result: [], Verdict: []}
            judged = []
            for k in range(count):
                index = made + k
                cid = next_id[Comparison]
                next_id[Comparison] += 1
                # Oldest first, so ids grow with created_at as in real use.
                created = now - span + span * (index + 1) / comparisons
                prompt = f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)}, {rng.choice(EXTRAS)} #{index}"
                params = {"size": rng.choice(SIZES), "quality": rng.choice(QUALITIES), "output_format": "png",
                          "n": 1, "seed": None}
                rows[Comparison].append(writers[Comparison].row({
                    "id": cid, "prompt": prompt, "params": params, "team_id": team.pk,
                    "created_by_id": user.pk if user else None, "created_at": created}))
                succeeded = []
                quality, size = params["quality"], params["size"]
                for position, (key, label) in enumerate(rng.sample(ROUTES, results_per)):
                    rid = next_id[Result]
                    next_id[Result] += 1
                    status = rng.choices(statuses, cum_weights=cum_weights)[0]
                    latency = rng.uniform(2000, 60000)
                    queue = rng.uniform(5, 80)
                    begun = created + timedelta(milliseconds=queue)
                    ok = status == Status.SUCCEEDED
                    cost = rng.choice(COSTS) if ok else None
                    if ok:
                        succeeded.append((rid, key))
                    cell = cells[(team.pk, key, rollups.utc_day(created), quality, size)]
                    cell.add(status, "" if ok else ERROR_CODES[status], latency if status != Status.CANCELLED else None,
                             cost, CostSource.ESTIMATED if ok else CostSource.UNKNOWN, [], 1)
                    cell.label = label
                    rows[Result].append(writers[Result].row({
                        "id": rid, "comparison_id": cid, "position": position, "route_key": key,
                        "route_label": label, "sandbox": key.startswith("sandbox:"), "status": status,
                        "error_code": "" if ok else ERROR_CODES[status],
                        "error": "" if ok else "The provider answered 500: the server had an error.",
                        "enqueued_at": created, "started_at": begun,
                        "finished_at": begun + timedelta(milliseconds=latency), "worker": "w0@bench",
                        "queue_ms": queue, "latency_ms": latency if status != Status.CANCELLED else None,
                        "provider_timings": {"total_ms": latency}, "estimated_cost_usd": cost, "cost_usd": cost,
                        "cost_source": CostSource.ESTIMATED if ok else CostSource.UNKNOWN,
                        "request_sent": {"method": "POST", "url": "https://example.invalid/v1/images/generations",
                                         "json": {"prompt": prompt, **params}},
                        "provider_request_id": f"req_{cid}_{position}", "rolled_up": True,
                    }))
                if user is not None and verdicts > 0 and rng.random() < verdicts:
                    verdict = self._verdict(rng, next_id[Verdict], cid, created, succeeded, route_weight, user)
                    rows[Verdict].append(writers[Verdict].row(verdict))
                    next_id[Verdict] += 1
                    judged.append(JudgedComparison(
                        comparison_id=cid, team_id=team.pk, created_at=created, quality=quality, size=size,
                        pattern=rollups.pattern_of([(verdict["kind"], verdict["winner_id"])], dict(succeeded))))
            with transaction.atomic():
                for model, writer in writers.items():
                    writer.write(rows[model])
                JudgedComparison.objects.bulk_create(judged, batch_size=2000)
            made += count
            if options.get("verbosity", 1) >= 2:
                self.stdout.write(f"{made} comparisons")
        if RouteDay.objects.filter(team=team).exists():  # a team generated into before: add to its cells
            with transaction.atomic():
                rollups._apply(dict(cells), DEFAULT_DB_ALIAS)
        else:
            RouteDay.objects.bulk_create(
                [RouteDay(team_id=t, route_key=r, day=d, quality=q, size=z, label=sums.label,
                          latencies=rollups.pack(sums.latencies),
                          **{name: getattr(sums, name) for name in rollups.SUM_FIELDS})
                 for (t, r, d, q, z), sums in cells.items()], batch_size=2000)
        if connection.vendor == "postgresql":  # ids were given: move the identity sequences past them
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), list(writers)):
                    cursor.execute(sql)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"created {comparisons} comparisons and {comparisons * results_per} results "
                          f"in {elapsed:.1f} s")

    @staticmethod
    def _verdict(rng, vid, comparison_id, created, succeeded, route_weight, user):
        """`user`'s verdict on one comparison: 80 % a winner among the succeeded results (the
        earlier routes of ROUTES win more often, so the scores differ), else a tie or "all bad"."""
        draw = rng.random()
        values = {"id": vid, "comparison_id": comparison_id, "user_id": user.pk, "updated_at": created,
                  "winner_id": None}
        if succeeded and draw < 0.8:
            values["winner_id"] = rng.choices([rid for rid, _ in succeeded],
                                              [route_weight[key] for _, key in succeeded])[0]
            values["kind"] = VerdictKind.WINNER
        else:
            values["kind"] = VerdictKind.TIE if succeeded and draw < 0.9 else VerdictKind.ALL_BAD
        return values
