"""URLs of the share links, mounted at the site root: the public pages under /s/<token> and the
team's side (the JSON API of share links is in compare/api/urls.py)."""

from django.urls import path

from compare.sharing import views as sharing

app_name = "sharing"

urlpatterns = [
    path("s/<str:token>", sharing.share_page, name="share"),
    path("s/<str:token>/preview.png", sharing.share_preview, name="share-preview"),
    path("s/<str:token>/c/<int:pk>", sharing.share_comparison, name="share-comparison"),
    path("s/<str:token>/c/<int:pk>/preview.png", sharing.share_preview, name="share-comparison-preview"),
    path("s/<str:token>/c/<int:pk>/vote", sharing.vote_shared, name="share-vote"),
    path("s/<str:token>/images/<int:pk>", sharing.shared_image, name="share-image"),
    path("s/<str:token>/images/<int:pk>/thumbnail", sharing.shared_thumbnail, name="share-thumbnail"),
    path("comparisons/<int:pk>/share", sharing.create_share_link, name="share-create"),
    path("team/links", sharing.team_links, name="team-links"),
    path("team/links/<int:pk>/revoke", sharing.revoke_share_link, name="share-revoke"),
]
