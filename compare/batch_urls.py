"""URLs of the prompt sets and batches (issue 7)."""

from django.urls import path

from . import batches, streams

urlpatterns = [
    path("batches/", batches.batch_list, name="batches"),
    path("batches/new", batches.batch_create, name="batch-create"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch"),
    path("batches/<int:pk>/matrix.csv", batches.batch_csv, name="batch-csv"),
    path("batches/<int:pk>/cancel", batches.batch_cancel, name="batch-cancel"),
    path("batches/<int:pk>/events", streams.batch_events, name="batch-events"),
    path("prompts/", batches.prompt_library, name="prompts"),
    path("prompts/save", batches.prompt_save, name="prompt-save"),
    path("prompts/<int:pk>/delete", batches.prompt_delete, name="prompt-delete"),
    path("prompts/<str:ref>/fill", batches.prompt_fill, name="prompt-fill"),
    path("prompt-sets/<int:pk>/delete", batches.prompt_set_delete, name="prompt-set-delete"),
]
