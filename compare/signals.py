"""The one signal: a personal team for every new user, however the user was created."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_users_a_personal_team(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .models import Team

        Team.personal_for(instance)
