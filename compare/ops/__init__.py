"""Running the app as a service: health, metrics, worker heartbeats, probes."""
