from django.urls import include, path

from . import accounts, credentials, teams, views

app_name = "compare"

urlpatterns = [
    path("", include("compare.review_urls")),
    path("", include("compare.share_urls")),
    path("", include("compare.insight_urls")),
    path("", include("compare.sidebyside_urls")),
    path("", include("compare.batch_urls")),
    path("", include("compare.check_urls")),
    path("", views.new_comparison, name="new"),
    path("comparisons/", views.history, name="history"),
    path("routes/", views.route_list, name="routes"),
    path("tokens/", accounts.token_list, name="tokens"),
    path("tokens/new", accounts.create_token, name="token-create"),
    path("tokens/<int:pk>/revoke", accounts.revoke_token, name="token-revoke"),
    path("team/", teams.team_detail, name="team"),
    path("team/switch", teams.switch_team, name="team-switch"),
    path("team/new", teams.create_team, name="team-create"),
    path("teams/<int:pk>/", teams.team_detail, name="team-detail"),
    path("teams/<int:pk>/members", teams.add_member, name="team-add-member"),
    path("teams/<int:pk>/members/<int:user_id>/remove", teams.remove_member, name="team-remove-member"),
    path("teams/<int:pk>/invites", teams.create_invite, name="team-invite"),
    path("teams/<int:pk>/budget", teams.set_budget, name="team-budget"),
    path("teams/<int:pk>/invites/<int:invite_id>/revoke", teams.revoke_invite, name="team-revoke-invite"),
    path("join/<str:token>", teams.accept_invite, name="invite"),
    path("teams/<int:pk>/credentials", credentials.edit_credentials, name="team-credentials"),
    path("teams/<int:pk>/credentials/test", credentials.test_credential, name="team-credential-test"),
    path("comparisons/<int:pk>/", views.comparison_detail, name="detail"),
    path("comparisons/<int:pk>/summary", views.comparison_summary, name="summary"),
    path("comparisons/<int:pk>/rerun", views.rerun_comparison, name="rerun"),
    path("comparisons/<int:pk>/cancel", views.cancel_comparison, name="cancel"),
    path("results/<int:pk>/card", views.result_card, name="result-card"),
    path("images/<int:pk>", views.image_original, name="image"),
    path("references/<int:pk>", views.reference_image, name="reference"),
    path("inputs/<str:token>", views.reference_public, name="reference-public"),
    path("images/<int:pk>/thumbnail", views.image_thumbnail, name="thumbnail"),
]
