from django.apps import AppConfig


class CompareConfig(AppConfig):
    name = "compare"
    verbose_name = "Image Provider Compare"

    def ready(self):
        from . import signals

        assert signals.give_new_users_a_personal_team  # connected on import
