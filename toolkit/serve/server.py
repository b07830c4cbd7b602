"""`attio-sync serve` as a library: the door, the sender, health and metrics on one event loop.

`serve(...)` binds the address, starts uvicorn on it with the door (`toolkit.serve.door`) plus
``GET /readyz`` and ``GET /metrics``, starts the sender (`toolkit.serve.sender`), logs one line
of figures a minute, and runs until `stop` is set. Then the door answers 503 (the libraries
keep their events and retry), the sender lets the events in flight finish (the engine's drain
time) and records them, and the server closes. What is still queued waits for the next start.

``/readyz`` answers 200 when the database answers, a schema is cached, the mapping holds
against it and Attio is not in an outage; else 503, with each check in the JSON body either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..cache import Cache
from ..client import Attempt, AttioClient
from ..mapping import EventMapping
from ..sync import DRAIN_SECONDS
from .door import EVENT_TYPES, receiver_app
from .inbox import Inbox
from .metrics import CONTENT_TYPE, ServeMetrics
from .sender import KEEP_DONE, RETRY_PAUSE, Sender

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_PORT", "LOG_EVERY", "ServeOptions", "paths_served", "serve"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8712
#: Events queued beyond which the door answers 503.
DEFAULT_MAX_QUEUE = 100_000
#: Seconds between the figures lines in the log.
LOG_EVERY = 60.0


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: where, for whom, and within what."""

    write_keys: Sequence[str]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_queue: int = DEFAULT_MAX_QUEUE
    schema_refresh: float | None = 600.0
    keep_done: float | None = KEEP_DONE
    concurrency: int = 16
    retry_pause: float = RETRY_PAUSE
    log_every: float = LOG_EVERY


def paths_served() -> list[str]:
    """The paths `serve` answers, as its start-up line lists them."""
    return ["POST /v1/batch", *(f"POST /v1/{name}" for name in EVENT_TYPES), "GET /healthz", "GET /readyz",
            "GET /metrics"]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve`'s caller decides what a signal does."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


async def serve(cache: Cache, mapping: EventMapping, options: ServeOptions, *,
                client_factory: Callable[[Callable[[Attempt], None]], AttioClient], stop: asyncio.Event,
                on_listening: Callable[[str], None] | None = None, label: str | None = None) -> None:
    """Receive events and send them to Attio until `stop` is set (see the module docstring).

    Args:
        cache: the database: queue, audit log, record state, lease and schema.
        mapping: which events become which records (checked against the schema before each run).
        options: address, write keys, limits.
        client_factory: a new Attio client given an attempt hook (one per run and per refresh).
        stop: set it to stop (a signal handler does).
        on_listening: called with the base URL once the socket listens.
        label: what the runs' rows name as their input (default ``serve HOST:PORT``).

    Raises:
        OSError: the address cannot be bound (in use, not permitted).
    """
    inbox = Inbox(cache)
    metrics = ServeMetrics()
    listener = _bind(options.host, options.port)
    host, port = listener.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    sender = Sender(cache, inbox, mapping, client_factory=client_factory, metrics=metrics,
                    concurrency=options.concurrency, schema_refresh=options.schema_refresh,
                    keep_done=options.keep_done, retry_pause=options.retry_pause, label=label or f"serve {host}:{port}")
    app = receiver_app(inbox, options.write_keys, max_queue=options.max_queue, metrics=metrics,
                       is_accepting=lambda: not stop.is_set(), on_accepted=sender.notify,
                       routes=[Route("/readyz", _readyz(cache, sender), methods=["GET"]),
                               Route("/metrics", _metrics(sender, metrics), methods=["GET"])])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False,
                            timeout_graceful_shutdown=5)
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if serving.done():
        serving.result()  # uvicorn could not start: say why
    if on_listening is not None:
        on_listening(url)
    sending = asyncio.create_task(sender.run(stop))
    figures = asyncio.create_task(_log_figures(sender, metrics, options.log_every))
    try:
        await stop.wait()
        # The door answers 503 from now on; the sender drains what is in flight and records it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(sending), timeout=DRAIN_SECONDS + 5)
    finally:
        for task in (sending, figures):
            task.cancel()
        await asyncio.gather(sending, figures, return_exceptions=True)
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        listener.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto is TCP, and accepted
    # sockets take the listener's; without it each answer waited ~40 ms (Nagle + delayed ACK; bench/serve.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _readyz(cache: Cache, sender: Sender) -> Callable[[Request], Any]:
    async def readyz(request: Request) -> Response:
        checks: dict[str, dict[str, Any]] = {}
        try:
            await asyncio.to_thread(_ping, cache)
            checks["database"] = {"ok": True}
        except Exception as exc:  # any failure to answer is "not ready", said in the body
            checks["database"] = {"ok": False, "reason": str(exc) or type(exc).__name__}
        state = sender.state
        checks["schema"] = {"ok": state.schema_pulled} | ({} if state.schema_pulled else {
            "reason": "no schema pulled yet: run `attio-sync schema pull`, or wait for the refresh"})
        checks["mapping"] = {"ok": not state.mapping_problems} | (
            {"problems": state.mapping_problems} if state.mapping_problems else {})
        outage = sender.in_outage or (state.sending == "paused" and "outage" in state.reason)
        checks["attio"] = {"ok": not outage} | ({"reason": state.reason or "the circuit breaker is open"}
                                                 if outage else {})
        ready = all(check["ok"] for check in checks.values())
        body = {"ready": ready, "sending": state.sending, "reason": state.reason, "run_id": state.run_id,
                "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})
    return readyz


def _ping(cache: Cache) -> None:
    with cache.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _metrics(sender: Sender, metrics: ServeMetrics) -> Callable[[Request], Any]:
    async def scrape(request: Request) -> Response:
        await asyncio.to_thread(sender.update_gauges)
        return Response(metrics.render(), media_type=CONTENT_TYPE)
    return scrape


async def _log_figures(sender: Sender, metrics: ServeMetrics, every: float) -> None:
    """One line of figures every `every` seconds."""
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(sender.update_gauges)
        log.info("%s", _figures(sender, metrics))


def _figures(sender: Sender, metrics: ServeMetrics) -> str:
    def value(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, labels)
        return found or 0.0

    outcomes = ", ".join(f"{int(value('attio_sync_outcomes_total', status=s))} {s}"
                         for s in ("synced", "unchanged", "invalid", "rejected", "failed", "duplicate"))
    return (f"{sender.state.sending}{': ' + sender.state.reason if sender.state.reason else ''}; "
            f"received {int(value('attio_sync_events_received_total'))}, "
            f"accepted {int(value('attio_sync_events_accepted_total'))}, queued {int(value('attio_sync_queue_depth'))} "
            f"(oldest {value('attio_sync_queue_oldest_age_seconds'):.0f}s); outcomes: {outcomes}")
