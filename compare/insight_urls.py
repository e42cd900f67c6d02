"""URLs of the insight pages (filled in by the module that owns them)."""

urlpatterns = []
