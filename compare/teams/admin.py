"""The admin of API tokens, and the admin's login under the app's limits."""

from django.contrib import admin

from compare.teams.accounts import LimitedAdminAuthenticationForm
from compare.teams.models import ApiToken

# The admin's login counts against the same limits as the app's (the backend enforces them; this
# form says so when a login was refused for that reason).
admin.site.login_form = LimitedAdminAuthenticationForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created_at", "last_used_at", "expires_at")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")
