from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from compare.accounts import LimitedLoginView, LimitedPasswordChangeView

urlpatterns = [
    path("login/", LimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", LimitedPasswordChangeView.as_view(), name="password_change"),
    path("password/done", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("api/", include("compare.api.urls")),
    path("", include("compare.urls")),
]
