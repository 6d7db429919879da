"""The service's Prometheus metrics: requests and their latency by route and status, jobs by state, and points
by collection."""

from __future__ import annotations

import time
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from embc.store.vectors import CollectionInfo


class Metrics:
    """One registry per service (so that tests can run several)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("embc_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("embc_request_seconds", "HTTP request latency", ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.jobs = Gauge("embc_jobs", "Recluster jobs this server started, by state", ["state"],
                          registry=self.registry)
        self.points = Gauge("embc_points", "Points stored, by collection", ["collection"], registry=self.registry)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def text(self, jobs, collections: Iterable[CollectionInfo]) -> str:
        """The metrics, with the jobs' states and the collections' sizes as they are now."""
        for state, count in jobs.counts().items():
            self.jobs.labels(state).set(count)
        self.points.clear()  # a deleted collection's series goes
        for info in collections:
            self.points.labels(info.name).set(info.points)
        return generate_latest(self.registry).decode()


class Measured:
    """ASGI middleware: each HTTP request's route, status and latency into `metrics` (Starlette's
    `@app.middleware("http")` wraps every response in a stream and a task, about as costly as a small route)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, method, status = time.perf_counter(), scope["method"], [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router records the route it matched in the request's scope.
            self.metrics.request(method, getattr(scope.get("route"), "path", "unmatched"), status[0],
                                 time.perf_counter() - start)
