"""`manage.py rotate_credentials`: re-encrypt every stored secret with the newest key."""

from django.core.management.base import BaseCommand

from compare.teams.credentials import rotate_all


class Command(BaseCommand):
    help = ("Re-encrypt every team credential and webhook secret with the first key of CREDENTIALS_KEYS. To rotate: put the new "
            "key first (NEW,OLD), run this, then remove OLD.")

    def handle(self, *args, **options):
        self.stdout.write(f"re-encrypted {rotate_all()} credential(s) and webhook secret(s) with the newest key")
