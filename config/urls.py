"""The site's URLs: logins, the admin, the API, and one include per app."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from compare.teams.accounts import LimitedLoginView, LimitedPasswordChangeView

urlpatterns = [
    path("login/", LimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", LimitedPasswordChangeView.as_view(), name="password_change"),
    path("password/done", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("api/", include("compare.api.urls")),
    path("", include("compare.teams.urls")),
    path("", include("compare.review.urls")),
    path("", include("compare.sharing.urls")),
    path("", include("compare.insights.urls")),
    path("", include("compare.batches.urls")),
    path("", include("compare.benchmarks.urls")),
    path("", include("compare.notifications.urls")),
    path("", include("compare.checks.urls")),
    path("", include("compare.ops.urls")),
    path("", include("compare.urls")),
]
