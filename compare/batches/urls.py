"""URLs of the prompt sets and batches (issue 7)."""

from django.urls import path

from compare import streams
from compare.batches import views as batch_views

app_name = "batches"

urlpatterns = [
    path("batches/", batch_views.batch_list, name="batches"),
    path("batches/new", batch_views.batch_create, name="batch-create"),
    path("batches/<int:pk>/", batch_views.batch_detail, name="batch"),
    path("batches/<int:pk>/matrix.csv", batch_views.batch_csv, name="batch-csv"),
    path("batches/<int:pk>/cancel", batch_views.batch_cancel, name="batch-cancel"),
    path("batches/<int:pk>/events", streams.batch_events, name="batch-events"),
    path("prompts/", batch_views.prompt_library, name="prompts"),
    path("prompts/save", batch_views.prompt_save, name="prompt-save"),
    path("prompts/<int:pk>/delete", batch_views.prompt_delete, name="prompt-delete"),
    path("prompts/<str:ref>/fill", batch_views.prompt_fill, name="prompt-fill"),
    path("prompt-sets/<int:pk>/delete", batch_views.prompt_set_delete, name="prompt-set-delete"),
]
