"""The admin of comparisons and results."""

from django.contrib import admin

from compare.models import Comparison, Result, ResultImage


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
