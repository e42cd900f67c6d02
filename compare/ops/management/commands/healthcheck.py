"""The checks of GET /healthz from a shell, for a container's health check: JSON on stdout, exit
status 1 when a dependency is down. --worker (for a worker's container, which serves no HTTP):
also down unless a worker on this machine wrote its heartbeat lately."""

import json
import sys

from django.core.management.base import BaseCommand

from compare.ops import health


class Command(BaseCommand):
    help = "Check the database, broker, workers and storage like /healthz; exit 1 when one is down."

    def add_arguments(self, parser):
        parser.add_argument("--worker", action="store_true",
                            help="also require a live worker on this machine (a worker container's readiness)")

    def handle(self, *args, worker, **options):
        answer = health.run_checks()
        if worker and answer["checks"]["workers"]["status"] != "unknown":
            here = [h for h in health.alive_workers().values_list("hostname", flat=True) if health.this_machine(h)]
            answer["checks"]["this_worker"] = {"status": "ok" if here else "down"}
            if not here:
                answer["status"] = "down"
                answer.setdefault("failing", []).append("this_worker")
        self.stdout.write(json.dumps(answer))
        if answer["status"] == "down":
            sys.exit(1)
