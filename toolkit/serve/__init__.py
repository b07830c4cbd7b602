"""`attio-sync serve`: receive events over the event-collection HTTP API and queue them (issue 13).

The receiving side, up to "committed to the durable queue":

- `inbox`: `Inbox`, the queue table ``inbox`` in the cache database (accept in one
  transaction per request, dedupe by messageId, read in arrival order, mark done inside the
  transaction that records outcomes).
- `door`: `receiver_app`, the Starlette app serving ``POST /v1/batch`` and the single-event
  paths the Segment, Customer.io and RudderStack libraries send to, and ``GET /healthz``.
- `metrics`: `ServeMetrics`, the Prometheus counters and gauges of a server.

    cache = open_cache("attio-sync.db")
    inbox = Inbox(cache)
    metrics = ServeMetrics()
    app = receiver_app(inbox, ["my-write-key"], max_queue=100_000, metrics=metrics)
    # uvicorn.run(app, host="127.0.0.1", port=8712)
"""

from __future__ import annotations

from .door import EVENT_TYPES, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, receiver_app
from .inbox import AcceptedEvent, AcceptResult, Inbox, QueuedEvent, inbox_key
from .metrics import CONTENT_TYPE, ServeMetrics

__all__ = [
    "AcceptResult",
    "AcceptedEvent",
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "Inbox",
    "MAX_EVENT_BYTES",
    "MAX_REQUEST_BYTES",
    "QueuedEvent",
    "ServeMetrics",
    "inbox_key",
    "receiver_app",
]
