"""Teams and who is in them: members, roles, invitations, team credentials and prices, logins and API tokens."""
