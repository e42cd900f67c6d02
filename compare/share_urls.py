"""URLs of the share pages (filled in by the module that owns them)."""

urlpatterns = []
