"""What `attio-sync serve` counts, in Prometheus form (issue 13).

`ServeMetrics` owns a private `CollectorRegistry`, so several servers in one process (tests,
benches) never share or clash over counters. The door updates the request and event counters;
the worker sets the queue, circuit, outcome and Attio figures. `render()` is the body of
``GET /metrics`` (with `CONTENT_TYPE` as its content type).

Every name starts ``attio_sync_``; counters get ``_total`` from the client library. Label
values come from short fixed sets (reason codes, statuses), never from the events: no email,
message id or write key ever becomes a label.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Enum, Gauge, Histogram, generate_latest

__all__ = ["CIRCUIT_STATES", "CONTENT_TYPE", "ServeMetrics"]

#: The content type of `ServeMetrics.render()`.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The circuit breaker's states (`toolkit.breaker.BreakerState`), in the order the metric lists them.
CIRCUIT_STATES = ("closed", "half-open", "open", "stopped")
#: Acknowledgement latency buckets (seconds): a commit takes milliseconds, a locked database seconds.
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    """The metrics of one server, in a registry of their own.

    Attributes (door):
        events_received: events in requests that passed authentication and parsing.
        events_accepted: events committed to the queue (new ones).
        events_duplicate: events whose messageId was already queued or done (a sender's retry).
        events_refused: events refused at the door, by `reason` code (see `toolkit.serve.door`).
        requests: answers to event-collection requests, by HTTP `status`.
        backpressure: 503 answers, by `reason` (queue_full, database, shutting_down).
        ack_seconds: from a request's arrival to its 200 answer, commit included.

    Attributes (worker):
        queue_depth: events queued, not yet given an outcome.
        queue_oldest_age: seconds since the oldest queued event arrived (0 when none).
        circuit: the circuit breaker's state (one of `CIRCUIT_STATES`).
        outcomes: events given their final outcome, by `status` (synced, unchanged, invalid...).
        attio_requests: HTTP attempts to Attio, by `status` (the code, or "error" without one).
        sending: 1 while the worker sends, 0 while sending is paused (mapping, lease, outage).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "attio_sync_events_received", "Events in requests that passed authentication and parsing", registry=r)
        self.events_accepted = Counter(
            "attio_sync_events_accepted", "Events committed to the queue", registry=r)
        self.events_duplicate = Counter(
            "attio_sync_events_duplicate", "Events whose messageId was already in the queue", registry=r)
        self.events_refused = Counter(
            "attio_sync_events_refused", "Events refused at the door, by reason", ["reason"], registry=r)
        self.requests = Counter(
            "attio_sync_http_requests", "Answers to event-collection requests, by HTTP status", ["status"],
            registry=r)
        self.backpressure = Counter(
            "attio_sync_backpressure", "Requests answered 503 to slow the sender, by reason", ["reason"], registry=r)
        self.ack_seconds = Histogram(
            "attio_sync_ack_seconds", "Seconds from a request's arrival to its 200 answer (commit included)",
            buckets=_ACK_BUCKETS, registry=r)
        self.queue_depth = Gauge(
            "attio_sync_queue_depth", "Events queued, not yet given an outcome", registry=r)
        self.queue_oldest_age = Gauge(
            "attio_sync_queue_oldest_age_seconds", "Seconds since the oldest queued event arrived", registry=r)
        self.circuit = Enum(
            "attio_sync_circuit_state", "The state of the circuit breaker in front of Attio",
            states=list(CIRCUIT_STATES), registry=r)
        self.outcomes = Counter(
            "attio_sync_outcomes", "Events given their final outcome, by status", ["status"], registry=r)
        self.attio_requests = Counter(
            "attio_sync_attio_requests", "HTTP attempts to Attio, by status", ["status"], registry=r)
        self.sending = Gauge(
            "attio_sync_sending", "1 while the worker sends to Attio, 0 while sending is paused", registry=r)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
