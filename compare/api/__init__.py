"""The JSON API under /api/: its views, presenters, token auth, Idempotency-Key, OpenAPI document and urls."""
