"""The JSON API under /api/, share links included: endpoints by area, presenters, auth, OpenAPI, urls."""
