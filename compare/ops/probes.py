"""Answers the probes of load balancers and Prometheus before the host check and the HTTPS
redirect: they reach a process by its address (Host: 10.0.0.7:8000) and often over plain HTTP,
which ALLOWED_HOSTS and SECURE_SSL_REDIRECT would refuse or redirect.

/healthz says nothing about any team or setting; /metrics is answered here only with
METRICS_TOKEN set (the Bearer token is its whole check). Unset, /metrics goes the usual way (a
staff session), past the host check like any page."""

from django.conf import settings

from compare.ops import health, metrics


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD"):
            if request.path_info == "/healthz":
                return health.healthz(request)
            if request.path_info == "/metrics" and settings.METRICS_TOKEN:
                return metrics.metrics(request)
        return self.get_response(request)
