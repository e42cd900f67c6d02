"""The owners' notifications page of a team (compare/notifications/views.py); the API is in compare/api/urls.py."""

from django.urls import path

from compare.notifications import views as webhooks

app_name = "notifications"

urlpatterns = [
    path("teams/<int:pk>/notifications", webhooks.notifications_page, name="team-notifications"),
    path("teams/<int:pk>/webhooks/new", webhooks.create_webhook, name="team-webhook-create"),
    path("teams/<int:pk>/webhooks/<int:hook>/delete", webhooks.delete_webhook, name="team-webhook-delete"),
    path("teams/<int:pk>/webhooks/<int:hook>/test", webhooks.test_webhook, name="team-webhook-test"),
    path("teams/<int:pk>/notifications/email", webhooks.save_emails, name="team-notification-emails"),
]
