"""Prometheus metrics of one service process (its own registry, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Requests, latencies, lock waits, saga compensations, 2PC outcomes, sweeper work."""

    def __init__(self, instance: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"instance": instance}
        self.requests = Counter("booking_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("booking_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.lock_acquire = Counter("booking_lock_acquire_total", "Seat-lock acquisitions",
                                    ["outcome"], registry=self.registry)
        self.lock_wait = Histogram("booking_lock_wait_seconds", "Time to acquire seat locks",
                                   registry=self.registry,
                                   buckets=(.001, .005, .01, .05, .1, .5, 1, 5))
        self.fence_rejections = Counter("booking_fence_rejections_total",
                                        "Seat writes refused by the fencing token",
                                        registry=self.registry)
        self.saga_compensations = Counter("booking_saga_compensations_total",
                                          "Saga compensations", ["reason"],
                                          registry=self.registry)
        self.twopc = Counter("booking_2pc_outcomes_total", "2PC outcomes",
                             ["phase", "decision"], registry=self.registry)
        self.twopc_recovered = Counter("booking_2pc_recovered_total",
                                       "In-doubt transactions resolved by recovery",
                                       ["decision"], registry=self.registry)
        self.sweeper = Counter("booking_sweeper_actions_total", "Sweeper actions",
                               ["sweeper", "action"], registry=self.registry)
        self.idempotency = Counter("booking_idempotency_total", "Idempotency-Key outcomes",
                                   ["outcome"], registry=self.registry)
        self.up = Gauge("booking_up", "1 while the process serves", registry=self.registry)
        self.up.set(1)
        self.labels = labels
