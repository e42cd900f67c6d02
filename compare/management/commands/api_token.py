from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from compare.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (use it as `Authorization: Bearer TOKEN`)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        _, token = ApiToken.issue(user)
        self.stdout.write(token)
