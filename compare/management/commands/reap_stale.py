"""``manage.py reap_stale``: one pass of the reaper (compare/tasks.py reap_stale), e.g. from cron."""

from django.core.management.base import BaseCommand

from compare.tasks import reap_stale


class Command(BaseCommand):
    help = ("End results a lost worker left running, re-check lost long jobs, resend results a lost "
            "message left queued. Workers run this every REAPER_INTERVAL_SECONDS; cron may too.")

    def handle(self, *args, **options):
        ended, rechecked, resent = reap_stale()
        self.stdout.write(f"ended {ended} lost running result(s); rechecked {rechecked} long job(s); "
                          f"resent {resent} queued result(s)")
