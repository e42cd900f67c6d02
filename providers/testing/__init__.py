"""What tests/ and bench/ share: a fake of each provider's protocol, the loopback server, the stack."""
