"""Bulk-create a large, realistic history (for bench/: history page, search and API list at scale).

    manage.py generate_history --comparisons 100000 --results-per 5

Comparisons get prompts from a fixed vocabulary (so a search word matches a known share of them),
`created_at` spread over the past year (newest has the highest id), and `--results-per` terminal
results each on a mix of real route keys and statuses, with latency, queue wait and cost filled in.
No image files are written: the history page and the API list never read them.
With an author (--username), a share of the comparisons (--verdicts, default 0.2) also get that
author's verdict (mostly a winner among the succeeded results, else a tie or "all bad"), so the
leaderboard's Bradley-Terry scores have votes to fit. Deterministic for a given --seed; rows are inserted with bulk_create in batches, one transaction
per batch.
"""

import random
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from compare.models import Comparison, CostSource, Result, Status, Verdict, VerdictKind

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


class Command(BaseCommand):
    help = "Bulk-create N comparisons with M results each (a history at scale, for benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--comparisons", type=int, default=1000, help="how many comparisons (default 1000)")
        parser.add_argument("--results-per", type=int, default=5, help="results per comparison (default 5)")
        parser.add_argument("--batch", type=int, default=2000, help="comparisons per insert batch")
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
        extra = {}
        if any(field.name == "team" for field in Comparison._meta.get_fields()):
            # Comparisons belong to a team once teams exist: the owner's personal team (the one
            # its history page shows), else a team made for the generated history.
            from compare.models import Team

            if user is not None:
                extra["team"] = Team.personal_for(user)
            else:
                extra["team"] = Team.objects.create(name="generated history")
        rng = random.Random(seed)
        now = timezone.now()
        span = timedelta(days=365)
        started = time.perf_counter()
        made = 0
        weights = [w for _, w in STATUS_WEIGHTS]
        statuses = [s for s, _ in STATUS_WEIGHTS]
        while made < comparisons:
            count = min(batch, comparisons - made)
            rows = []
            for k in range(count):
                index = made + k
                # Oldest first, so ids grow with created_at as in real use.
                created = now - span + span * (index + 1) / comparisons
                prompt = f"{rng.choice(SUBJECTS)} {rng.choice(PLACES)}, {rng.choice(EXTRAS)} #{index}"
                params = {"size": rng.choice(SIZES), "quality": rng.choice(QUALITIES), "output_format": "png",
                          "n": 1, "seed": None}
                rows.append(Comparison(prompt=prompt, params=params, created_by=user, created_at=created, **extra))
            with transaction.atomic():
                created_rows = Comparison.objects.bulk_create(rows)
                results = []
                for comparison in created_rows:
                    for position, (key, label) in enumerate(rng.sample(ROUTES, results_per)):
                        status = rng.choices(statuses, weights)[0]
                        latency = rng.uniform(2000, 60000)
                        queue = rng.uniform(5, 80)
                        enqueued = comparison.created_at
                        begun = enqueued + timedelta(milliseconds=queue)
                        ok = status == Status.SUCCEEDED
                        cost = Decimal(rng.choice(["0.006", "0.053", "0.211", "0.04"])) if ok else None
                        results.append(Result(
                            comparison=comparison, position=position, route_key=key, route_label=label,
                            sandbox=key.startswith("sandbox:"), status=status,
                            error_code="" if ok else {"failed": "server_error", "timed_out": "timeout",
                                                      "cancelled": "cancelled"}[status],
                            error="" if ok else "The provider answered 500: the server had an error.",
                            enqueued_at=enqueued, started_at=begun,
                            finished_at=begun + timedelta(milliseconds=latency), worker="w0@bench",
                            queue_ms=queue, latency_ms=latency if status != Status.CANCELLED else None,
                            provider_timings={"total_ms": latency}, estimated_cost_usd=cost,
                            cost_usd=cost, cost_source=CostSource.ESTIMATED if ok else CostSource.UNKNOWN,
                            request_sent={"method": "POST", "url": "https://example.invalid/v1/images/generations",
                                          "json": {"prompt": comparison.prompt, **comparison.params}},
                            provider_request_id=f"req_{comparison.pk}_{position}",
                        ))
                Result.objects.bulk_create(results, batch_size=5000)
                if user is not None and verdicts > 0:
                    Verdict.objects.bulk_create(self._verdicts(rng, results, results_per, user, verdicts),
                                                batch_size=5000)
            made += count
            if options.get("verbosity", 1) >= 2:
                self.stdout.write(f"{made} comparisons")
        elapsed = time.perf_counter() - started
        self.stdout.write(f"created {comparisons} comparisons and {comparisons * results_per} results "
                          f"in {elapsed:.1f} s")

    @staticmethod
    def _verdicts(rng, results, results_per, user, share):
        """One verdict by `user` on about `share` of the comparisons whose results are `results`
        (in comparison order, `results_per` each): 80 % a winner among the succeeded results (the
        earlier positions win more often, so the scores differ), else a tie or "all bad"."""
        out = []
        for start in range(0, len(results), results_per):
            if rng.random() >= share:
                continue
            group = results[start:start + results_per]
            ok = [r for r in group if r.status == Status.SUCCEEDED]
            comparison = group[0].comparison
            draw = rng.random()
            if ok and draw < 0.8:
                weights = [len(ROUTES) - ROUTES.index((r.route_key, r.route_label)) for r in ok]
                winner = rng.choices(ok, weights)[0]
                out.append(Verdict(comparison=comparison, user=user, kind=VerdictKind.WINNER, winner=winner,
                                   updated_at=comparison.created_at))
            else:
                kind = VerdictKind.TIE if ok and draw < 0.9 else VerdictKind.ALL_BAD
                out.append(Verdict(comparison=comparison, user=user, kind=kind, updated_at=comparison.created_at))
        return out
