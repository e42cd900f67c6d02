from django.contrib import admin

from .accounts import LimitedAdminAuthenticationForm
from .models import ApiToken, Comparison, Result, ResultImage

# The admin's login counts against the same limits as the app's (the backend enforces them; this
# form says so when a login was refused for that reason).
admin.site.login_form = LimitedAdminAuthenticationForm


class ResultInline(admin.TabularInline):
    model = Result
    extra = 0
    fields = ("route_key", "status", "latency_ms", "queue_ms", "cost_usd", "cost_source", "error")
    readonly_fields = fields
    can_delete = False


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("id", "prompt", "created_by", "created_at")
    search_fields = ("prompt",)
    inlines = [ResultInline]


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = ("id", "comparison", "route_key", "status", "latency_ms", "cost_usd", "cost_source")
    list_filter = ("status", "route_key")


@admin.register(ResultImage)
class ResultImageAdmin(admin.ModelAdmin):
    list_display = ("id", "result", "width", "height", "format", "bytes")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created_at", "last_used_at", "expires_at")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")
