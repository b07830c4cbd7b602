"""Benchmark: a sync's write throughput against a write limit, and the 429s it provokes.

5,000 identify events (new users, so each is 2 writes: a person assert and a user assert)
are synced against the sandbox with its write limit at 200/s (counted per clock second, as
Attio counts) and the client's write budget at 200/s too. With the limit as the only brake,
10,000 writes take about 50 s.

Transports (`--transport`; the output says which):
  loopback   real HTTP over 127.0.0.1 to the sandbox served by uvicorn in a subprocess, so the
             server has a core of its own, as Attio would (default);
  thread     the same server in a thread of this process (`serve_in_thread`): it shares the
             interpreter lock with the sync, so it measures the two together;
  inprocess  httpx's ASGI transport, no socket.

Requests and 429s are counted as the client saw them (every attempt, retries included). It
prints events, writes, seconds, achieved writes per second as a ratio of the limit, and 429s
received as a share of all requests. Aims: at least 0.9 of the limit; at most 1% 429s.

    .venv/bin/python bench/sync_throughput.py [--events 5000] [--rate 200] [--concurrency 16]
        [--transport loopback|thread|inprocess]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import free_port, wait_for  # noqa: E402  (bench/common.py)

from toolkit.cache import open_cache
from toolkit.client import Attempt, AttemptHook, AttioClient
from toolkit.events import read_events
from toolkit.mapping import default_mapping
from toolkit.pull import pull_schema
from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app, serve_in_thread
from toolkit.sync import SyncResult, run_sync

READ_RATE = 100  # Attio's; only the schema pull reads here
TOKEN = "bench" + "0" * 59
TRANSPORTS = {
    "loopback": "real loopback HTTP (uvicorn on 127.0.0.1 in a subprocess)",
    "thread": "real loopback HTTP (uvicorn on 127.0.0.1 in a thread of the syncing process)",
    "inprocess": "in-process (httpx ASGI transport, no socket)",
}


def sandbox_config(rate: int) -> SandboxConfig:
    return SandboxConfig(token=TOKEN, activate=frozenset({"users", "workspaces"}), read_rate=READ_RATE,
                         write_rate=rate)


def identify_events(count: int) -> bytes:
    lines = (json.dumps({"type": "identify", "messageId": f"tp-{n}", "userId": f"user-{n}",
                         "timestamp": "2026-01-01T00:00:00Z",
                         "traits": {"email": f"user{n}@example.com", "name": f"User {n}"}})
             for n in range(count))
    return "\n".join(lines).encode()


def _serve(port: int, rate: int) -> None:
    import uvicorn

    uvicorn.run(create_app(sandbox_config(rate)), host="127.0.0.1", port=port, log_level="warning", lifespan="on")


@contextlib.contextmanager
def endpoint(transport: str, rate: int) -> Iterator[tuple[str, httpx.AsyncBaseTransport | None]]:
    """The base URL and transport the client uses."""
    if transport == "loopback":
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--rate", str(rate)])
        try:
            wait_for(port)
            yield f"http://127.0.0.1:{port}", None
        finally:
            server.terminate()
            server.wait(timeout=10)
    elif transport == "thread":
        with serve_in_thread(create_app(sandbox_config(rate))) as base_url:
            yield base_url, None
    else:
        yield "https://api.attio.test", SandboxTransport(create_app(sandbox_config(rate)))


@dataclass
class Tally:
    """Every attempt the client made during the sync: (started_at, method, status)."""

    attempts: list[tuple[float, str, int | None]] = field(default_factory=list)

    def hook(self, inner: AttemptHook | None) -> AttemptHook:
        def record(attempt: Attempt) -> None:
            self.attempts.append((attempt.started_at, attempt.method, attempt.status))
            if inner is not None:
                inner(attempt)
        return record


async def run(base_url: str, transport: httpx.AsyncBaseTransport | None, data: bytes, rate: int,
              concurrency: int, tmp: Path, tally: Tally) -> SyncResult:
    cache = open_cache(str(tmp / "bench.db"))
    try:
        def client(*hooks: AttemptHook) -> AttioClient:
            return AttioClient(TOKEN, base_url=base_url, transport=transport, read_rate=READ_RATE,
                               write_rate=rate, max_concurrency=concurrency, on_attempt=hooks)

        async with client() as c:
            await pull_schema(c, cache)
        schema = cache.load_schema()
        await asyncio.sleep(1.1)  # the pull's reads do not share a clock second with the writes
        mapping = default_mapping()
        async with client(tally.hook(None)) as c:
            return await run_sync(cache, schema, mapping, read_events(io.BytesIO(data)), client=c, input="bench",
                                  concurrency=concurrency)
    finally:
        cache.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="identify events (2 writes each)")
    parser.add_argument("--rate", type=int, default=200, help="write limit of the sandbox and the client, per second")
    parser.add_argument("--concurrency", type=int, default=16, help="events in flight (and client connections)")
    parser.add_argument("--transport", choices=tuple(TRANSPORTS), default="loopback")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.rate)
        return
    logging.getLogger("toolkit.client").setLevel(logging.ERROR)  # no line per retried 429

    data = identify_events(args.events)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp, endpoint(args.transport, args.rate) as (base_url, transport):
        result = asyncio.run(run(base_url, transport, data, args.rate, args.concurrency, Path(tmp), tally))
    attempts = tally.attempts
    writes = [at for at, method, status in attempts if method != "GET" and status == 200]
    rejected = sum(1 for _, _, status in attempts if status == 429)
    other = len(attempts) - len(writes) - rejected
    overall = len(writes) / result.seconds
    # After the first second: the client's window lets a full second's budget go at once at the
    # start, which flatters a short run; past it the rate is the limiter's steady state.
    start = min(writes, default=0.0) + 1.0
    later = [at for at in writes if at >= start]
    steady = (len(later) - 1) / (later[-1] - start) if len(later) > 1 and later[-1] > start else float("nan")
    print(f"sync throughput: {args.events} identify events, write limit {args.rate}/s (sandbox and client), "
          f"concurrency {args.concurrency}")
    print(f"transport : {TRANSPORTS[args.transport]}")
    print(f"outcomes  : {', '.join(f'{k} {v}' for k, v in result.counts.items() if v)}")
    print(f"requests  : {len(attempts)} ({len(writes)} writes accepted, {rejected} answered 429, {other} other)")
    print(f"seconds   : {result.seconds:.2f}")
    print(f"writes/s  : {overall:.1f} = {overall / args.rate:.3f} of the limit over the whole sync (aim >= 0.9); "
          f"{steady:.1f} = {steady / args.rate:.3f} after the first second")
    print(f"429 share : {rejected / max(1, len(attempts)):.4f} of requests (aim <= 0.01)")


if __name__ == "__main__":
    main()
