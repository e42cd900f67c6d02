"""Prompt sets and batch runs (issue 7).

Built-in sets live in compare/batches/prompt_sets.json, read-only (compare/batches/prompt_sets.py loads them). A team
saves its own prompts here, each in one of its named sets. A Batch is one submission of a whole
set: one Comparison per prompt, linked through BatchItem with the prompt's position and title."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from compare.models import Status

DEFAULT_SET_NAME = "Saved prompts"


class PromptSet(models.Model):
    """A team's own named set of prompts (the built-in sets are not rows)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="prompt_sets")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_promptset"  # moved from the compare app; the table kept its name
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_prompt_set_name_per_team")]

    def __str__(self):
        return self.name

    @property
    def ref(self):
        """The id used in links and in the API ("set-12"); built-in sets use their slug."""
        return f"set-{self.pk}"


class Prompt(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="prompts")
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="prompts")
    title = models.CharField(max_length=120, blank=True)
    text = models.TextField()
    size = models.CharField(max_length=20, blank=True)  # a suggested WIDTHxHEIGHT, or blank
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_prompt"  # moved from the compare app; the table kept its name
        ordering = ["created_at", "id"]

    def __str__(self):
        text = " ".join(self.text.split())
        return self.title or (text if len(text) <= 60 else text[:59] + "…")

    @property
    def ref(self):
        return f"saved-{self.pk}"


class BatchQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Batches of the teams the user belongs to; nothing for anyone else."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(team__memberships__user=user)

    def with_progress(self):
        """Newest first, each with prompts, cells (results) and running (cells not finished yet)."""
        unfinished = models.Q(items__comparison__results__status__in=[Status.QUEUED, Status.RUNNING])
        return self.order_by("-created_at", "-id").annotate(
            prompts=models.Count("items", distinct=True),
            cells=models.Count("items__comparison__results", distinct=True),
            running=models.Count("items__comparison__results", filter=unfinished, distinct=True))


class Batch(models.Model):
    """A whole prompt set run at once against the same routes and parameters."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The set it came from: a built-in slug ("typography") or a team set ("set-12"), and its name
    # then (a team set may be renamed or deleted later; the batch keeps its comparisons).
    source = models.CharField(max_length=100)
    source_name = models.CharField(max_length=200)
    route_keys = models.JSONField(default=list)  # the matrix's columns, in order
    params = models.JSONField(default=dict)  # the common parameters asked for the batch
    use_prompt_sizes = models.BooleanField(default=False)  # a prompt's suggested size overrode params["size"]
    blind = models.BooleanField(default=False)

    objects = BatchQuerySet.as_manager()

    class Meta:
        db_table = "compare_batch"  # moved from the compare app; the table kept its name
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("batches:batch", args=[self.pk])


class BatchItem(models.Model):
    """One row of a batch: the prompt at this position, run as this comparison."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120, blank=True)
    comparison = models.OneToOneField("compare.Comparison", on_delete=models.CASCADE, related_name="batch_item")
    size_from_prompt = models.BooleanField(default=False)  # this prompt's suggested size was used

    class Meta:
        db_table = "compare_batchitem"  # moved from the compare app; the table kept its name
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["batch", "position"], name="one_item_per_batch_position")]
