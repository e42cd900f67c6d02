"""`manage.py api_token USERNAME`: create an API token and print it once."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compare.teams.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (use it as `Authorization: Bearer TOKEN`)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--expires-in-days", type=int, default=None, metavar="DAYS",
                            help="the token stops working after DAYS days (default: until revoked)")
        parser.add_argument("--name", default="", help="what the token is for (shown on the API tokens page)")

    def handle(self, *args, username, expires_in_days=None, name="", **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        _, token = ApiToken.issue(user, expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
                                  name=name)
        self.stdout.write(token)
