"""Every new user gets a personal team, however the user was created."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from compare.teams.models import Team


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_users_a_personal_team(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        Team.personal_for(instance)
