"""adapters_observability: what the service tells its operators (Prometheus metrics, JSON logs).

Each metrics class owns its families on a registry it is given (:func:`.registry.metrics_registry`
makes one per container, never the global one); :mod:`.logging` routes structlog and stdlib
logging through one pipeline, and :mod:`.redaction` masks secrets in every line of it. Like the
other adapters it imports only the core; the composition root decides what to measure where.
"""
