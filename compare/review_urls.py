"""URLs of the review pages (filled in by the module that owns them)."""

urlpatterns = []
