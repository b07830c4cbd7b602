"""How fast the sandbox answers, so it is never the bottleneck of a sync benchmark.

The server runs in a subprocess (uvicorn on 127.0.0.1, limits off) so it does not share the
client's interpreter lock; clients are httpx, one at a time or several concurrently. Figures are
requests per second and their ratio to Attio's write limit (25/s); the target is at least 10x.
An in-process figure (httpx's ASGI transport, no socket) is printed for reference.

    .venv/bin/python bench/sandbox.py [--requests 600] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import free_port, wait_for  # noqa: E402  (bench/common.py)

from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app  # noqa: E402

ATTIO_WRITE_LIMIT = 25.0
TOKEN = "bench" + "0" * 59


def _serve(port: int) -> None:
    import uvicorn

    app = create_app(SandboxConfig.unlimited(token=TOKEN, activate={"users", "workspaces"}))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _assert_person(client: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
    # The write a sync sends most: a person asserted by email, with a name and a company link.
    return client.put("/v2/objects/people/records", params={"matching_attribute": "email_addresses"},
                      json={"data": {"values": {"email_addresses": [f"person{n}@example.com"],
                                                "name": f"Person, Number {n}", "job_title": "Tester"}}})


def _get_objects(client: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
    return client.get("/v2/objects/people/attributes")


async def _run(client: httpx.AsyncClient, request: Request, total: int, concurrency: int, offset: int) -> float:
    counter = iter(range(offset, offset + total))

    async def worker() -> None:
        for n in counter:
            response = await request(client, n)
            if response.status_code != 200:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def _bench(port: int, total: int, concurrency: int) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits) as client:
        await _run(client, _get_objects, 20, 1, 0)  # warm up the connection and the server
        offset = 0
        for name, request in (("assert person (write)", _assert_person), ("list attributes (read)", _get_objects)):
            for workers in (1, concurrency):
                rows.append((f"loopback, {workers} client{'s' if workers > 1 else ''}, {name}",
                             await _run(client, request, total, workers, offset)))
                offset += total
    app = create_app(SandboxConfig.unlimited(token=TOKEN))
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url="https://api.attio.com",
                                 headers=headers) as client:
        rows.append(("in-process, 1 client, assert person (write)", await _run(client, _assert_person, total, 1, 0)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for(port)
        rows = asyncio.run(_bench(port, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    width = max(len(name) for name, _ in rows)
    print(f"sandbox throughput, limits off, {args.requests} requests per row")
    print(f"{'':{width}}  {'req/s':>8}  {'x Attio write limit (25/s)':>27}")
    for name, rate in rows:
        print(f"{name:{width}}  {rate:8.0f}  {rate / ATTIO_WRITE_LIMIT:26.1f}x")
    worst = min(rate for name, rate in rows if name.startswith("loopback"))
    verdict = "meets" if worst >= 10 * ATTIO_WRITE_LIMIT else "MISSES"
    print(f"slowest loopback row: {worst / ATTIO_WRITE_LIMIT:.1f}x 25/s; {verdict} the 10x target (250 req/s)")


if __name__ == "__main__":
    main()
