"""The Celery app: settings from Django's (CELERY_*), tasks found in every installed app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("image_provider_compare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
