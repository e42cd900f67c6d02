"""URLs of the team pages: the switcher, members, invitations, budget, prices, credentials, tokens."""

from django.urls import path

from compare.teams import accounts, credentials, prices, views as teams

app_name = "teams"

urlpatterns = [
    path("tokens/", accounts.token_list, name="tokens"),
    path("tokens/new", accounts.create_token, name="token-create"),
    path("tokens/<int:pk>/revoke", accounts.revoke_token, name="token-revoke"),
    path("team/", teams.team_detail, name="team"),
    path("team/switch", teams.switch_team, name="team-switch"),
    path("team/new", teams.create_team, name="team-create"),
    path("teams/<int:pk>/", teams.team_detail, name="team-detail"),
    path("teams/<int:pk>/members", teams.add_member, name="team-add-member"),
    path("teams/<int:pk>/members/<int:user_id>/remove", teams.remove_member, name="team-remove-member"),
    path("teams/<int:pk>/leave", teams.leave_team, name="team-leave"),
    path("teams/<int:pk>/invites", teams.create_invite, name="team-invite"),
    path("teams/<int:pk>/budget", teams.set_budget, name="team-budget"),
    path("teams/<int:pk>/prices", prices.save_price, name="team-price"),
    path("teams/<int:pk>/prices/<int:price_id>/delete", prices.delete_price, name="team-price-delete"),
    path("teams/<int:pk>/invites/<int:invite_id>/revoke", teams.revoke_invite, name="team-revoke-invite"),
    path("join/<str:token>", teams.accept_invite, name="invite"),
    path("invitations/<int:invite_id>/decline", teams.decline_invite, name="invite-decline"),
    path("teams/<int:pk>/credentials", credentials.edit_credentials, name="team-credentials"),
    path("teams/<int:pk>/credentials/test", credentials.test_credential, name="team-credential-test"),
]
