"""Per-team provider credentials, encrypted at rest with Fernet (MultiFernet for key rotation).

A team owner sets a provider's key (or endpoint, or base URL) in the UI; it overrides the
environment variable of the same name for that team's comparisons. Only the last four
characters are ever shown back."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class TeamCredential(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=100)  # the environment variable it stands for, e.g. OPENAI_API_KEY
    ciphertext = models.TextField()
    last4 = models.CharField(max_length=4)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_teamcredential"  # moved from the compare app; the table kept its name
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_value_per_team_and_name")]
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ····{self.last4}"
