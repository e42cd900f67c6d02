"""`manage.py check_images`: run the automatic image checks now on results that have none."""

from django.core.management.base import BaseCommand

from compare.checks import checks
from compare.models import Result, Status


class Command(BaseCommand):
    help = ("Run the automatic image checks (docs/checks.md) here, now, on succeeded results that have none: "
            "results stored before the checks existed, or whose check task was lost. --all checks every one again.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="check every succeeded result again")
        parser.add_argument("--limit", type=int, default=None, help="at most this many results")

    def handle(self, *args, all=False, limit=None, **options):
        results = Result.objects.filter(status=Status.SUCCEEDED).order_by("-finished_at", "-id")
        if not all:
            results = results.filter(image_checks__isnull=True)
        ids = list(results.values_list("pk", flat=True)[:limit])
        done = failed = 0
        for pk in ids:
            found = checks.run_checks(pk)
            if found is not None and found.status == found.DONE:
                done += 1
            elif found is not None:
                failed += 1
                self.stderr.write(f"result {pk}: {found.error}")
        self.stdout.write(f"Checked {done} result(s); {failed} could not be checked.")
