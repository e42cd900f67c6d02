"""What a team hears of: webhooks and e-mails on events, each delivered once and retried."""
