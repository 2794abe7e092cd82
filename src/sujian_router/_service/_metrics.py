"""Prometheus metrics of one service instance (a private registry per app)."""

from __future__ import annotations

__all__ = ["ServiceMetrics"]

#: Latency buckets in seconds: routing one complaint takes milliseconds, a full batch up to seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Counters, a latency histogram and model information.

    A private :class:`prometheus_client.CollectorRegistry` keeps two apps in
    one process (as in tests) from sharing or clashing.  With several worker
    processes each worker counts its own requests.

    Examples
    --------
    >>> m = ServiceMetrics()
    >>> m.observe_request("GET", "/healthz", 200, 0.002)
    >>> b'sujian_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in m.render()[0]
    True
    """

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("sujian_http_requests", "HTTP requests answered.",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("sujian_http_request_duration_seconds", "Time to answer a request.",
                                 ("route",), buckets=_BUCKETS, registry=self.registry)
        self.decisions = Counter("sujian_decisions", "Routing decisions returned, by tier and category.",
                                 ("tier", "category"), registry=self.registry)
        self.reviews = Counter("sujian_decisions_needing_review", "Decisions flagged for a human dispatcher.",
                               registry=self.registry)
        self.reloads = Counter("sujian_model_reloads", "Model reload attempts by result.",
                               ("result",), registry=self.registry)
        self.ready = Gauge("sujian_model_ready", "1 when a model is loaded and serving.", registry=self.registry)
        self.model = Info("sujian_model", "The model answering requests.", registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request under its route template (never the raw path)."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_decisions(self, decisions) -> None:
        """Count decisions (dicts from ``RoutingDecision.to_dict()``) by tier and category."""
        for d in decisions:
            self.decisions.labels(str(d.get("tier") or "none"), str(d.get("category") or "none")).inc()
            if d.get("needs_review"):
                self.reviews.inc()

    def set_model(self, loaded, ready: bool) -> None:
        """Publish the current model and readiness."""
        self.ready.set(1 if ready else 0)
        if loaded is not None:
            self.model.info({k: str(v) for k, v in loaded.info().items()})

    def render(self):
        """Return ``(body, content_type)`` of the Prometheus text exposition."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
