"""Benchmark: `attio-sync schema pull` of a large workspace against Attio's 100 reads/s limit.

The workspace has 40 objects of 60 attributes each, a third of them selects with 20 options,
so a pull is 3 + 40 + 800 = 843 reads. It is served over loopback HTTP by a small server in a
subprocess (uvicorn on 127.0.0.1) that answers at once from memory but enforces the read limit
the strict way: more than 100 reads in ANY one-second window gets a 429 (as Attio would at
worst; a refused request uses no budget), so the pull's speed is set by the client's rate
limiter alone. The pull is the real CLI as a user runs it, in a subprocess:

    attio-sync schema pull --base-url http://127.0.0.1:PORT --api-key KEY --db FILE --json

The server counts successful reads and 429s apart. It prints both (and when the 429s came), the seconds (the CLI's own
figure, the cache write included, and the process's wall time, start-up included), and the
successful reads per second as a ratio of the limit. Aim: at least 0.9 of the limit, no 429.
It also prints the headroom: the shortest time in which `rate + 1` requests arrived (below one
second, the last of them got a 429). Each arrival's time.monotonic() (the clock the CLI's
limiter uses, on Linux the same in both processes), status and path are in the server's
tally at /_bench/counts, to set beside the client's own times when diagnosing.

    .venv/bin/python bench/schema_pull.py [--objects 40] [--attributes 60] [--options 20] [--rate 100]
"""

from __future__ import annotations

import argparse
import collections
import email.utils
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import free_port, run_cli, serving  # noqa: E402  (bench/common.py)

Message = MutableMapping[str, Any]
#: The server's tally, not a read: GET it once the pull is over.
COUNTS_PATH = "/_bench/counts"
JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]


def build_workspace(objects: int, attributes: int, options: int) -> dict[str, bytes]:
    """Each path a pull reads, with its answer's body (encoded once, up front)."""
    ws = str(uuid.uuid4())

    def uid() -> str:
        return str(uuid.uuid4())

    listed_objects: list[dict[str, Any]] = []
    routes: dict[str, Any] = {}
    for o in range(objects):
        slug, object_id = f"object_{o}", uid()
        listed_objects.append({"id": {"workspace_id": ws, "object_id": object_id}, "api_slug": slug,
                               "singular_noun": slug, "plural_noun": slug,
                               "created_at": "2025-01-01T00:00:00.000000000Z"})
        listed = []
        for a in range(attributes):
            is_select = a % 3 == 0
            attr_slug, attribute_id = f"attr_{a}", uid()
            listed.append({
                "id": {"workspace_id": ws, "object_id": object_id, "attribute_id": attribute_id},
                "title": attr_slug, "description": None, "api_slug": attr_slug,
                "type": "select" if is_select else "text",
                "is_system_attribute": False, "is_writable": True, "is_required": False, "is_unique": False,
                "is_multiselect": False, "is_default_value_enabled": False, "is_archived": False, "default_value": None,
                "relationship": None, "created_at": "2025-01-01T00:00:00.000000000Z",
                "config": {"currency": {"default_currency_code": None, "display_type": None},
                           "record_reference": {"allowed_object_ids": None}}})
            if is_select:
                routes[f"/v2/objects/{slug}/attributes/{attr_slug}/options"] = {"data": [
                    {"id": {"workspace_id": ws, "object_id": object_id, "attribute_id": attribute_id,
                            "option_id": uid()},
                     "title": f"Option {n}", "is_archived": False} for n in range(options)]}
        routes[f"/v2/objects/{slug}/attributes"] = {"data": listed}
    routes["/v2/self"] = {"active": True, "workspace_id": ws, "workspace_name": "Bench",
                          "scope": "object_configuration:read"}
    routes["/v2/objects"] = {"data": listed_objects}
    routes["/v2/workspace_members"] = {"data": []}
    return {path: json.dumps(body).encode() for path, body in routes.items()}


class StrictReadLimit:
    """An ASGI app: answers from `bodies`; more than `rate` reads in any 1 s window gets a 429.

    Counts what it answered: reads (200), 429s, and anything else (404), with the times of the
    first and last accepted read.
    """

    def __init__(self, bodies: dict[str, bytes], rate: int) -> None:
        self.bodies, self.rate = bodies, rate
        self.recent: collections.deque[float] = collections.deque()
        self.counts = {"reads": 0, "rejected": 0, "other": 0}
        self.first: float | None = None
        self.last: float | None = None
        self.rejected_at: list[float] = []  # seconds after the first read
        #: Every read's arrival (time.monotonic(), the same clock as the CLI's on Linux), status and path.
        self.arrivals: list[tuple[float, int, str]] = []
        self.rejected_body = json.dumps({"status_code": 429, "type": "rate_limit_error",
                                         "code": "rate_limit_exceeded",
                                         "message": "Rate limit exceeded, please try again later"}).encode()

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == COUNTS_PATH:
            body = json.dumps({**self.counts, "span": (self.last or 0.0) - (self.first or 0.0),
                               "rejected_at": self.rejected_at, "arrivals": self.arrivals}).encode()
            await self._answer(send, 200, body)
            return
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if path not in self.bodies:
            self.counts["other"] += 1
            await self._answer(send, 404, b'{"status_code": 404}')
        elif len(self.recent) >= self.rate:
            self.counts["rejected"] += 1
            self.rejected_at.append(now - (self.first or now))
            self.arrivals.append((now, 429, path))
            reset = email.utils.formatdate(time.time() + 1, usegmt=True)
            await self._answer(send, 429, self.rejected_body, [(b"retry-after", reset.encode())])
        else:
            self.recent.append(now)
            self.counts["reads"] += 1
            self.first = now if self.first is None else self.first
            self.last = now
            self.arrivals.append((now, 200, path))
            await self._answer(send, 200, self.bodies[path])

    @staticmethod
    async def _answer(send: Callable[[Message], Awaitable[None]], status: int, body: bytes,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [*JSON_HEADERS, *(headers or [])]})
        await send({"type": "http.response.body", "body": body})


def serve(port: int, args: argparse.Namespace) -> None:
    """In the server subprocess: serve the workspace on 127.0.0.1:`port` until terminated."""
    import uvicorn

    app = StrictReadLimit(build_workspace(args.objects, args.attributes, args.options), args.rate)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)


def server_counts(base_url: str) -> dict[str, Any]:
    import httpx

    counts: dict[str, Any] = httpx.get(base_url + COUNTS_PATH, timeout=10).json()
    return counts


def headroom(arrivals: list[float], rate: int) -> tuple[float | None, int]:
    """How near the pull came to the limit: the shortest span of `rate + 1` consecutive arrivals
    (None when there are not that many), and the most arrivals in any one-second window."""
    times = sorted(arrivals)
    spans = [times[i + rate] - times[i] for i in range(len(times) - rate)]
    busiest, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return (min(spans) if spans else None), busiest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--attributes", type=int, default=60)
    parser.add_argument("--options", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100, help="the server's read limit per second (the CLI's is 100)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args)
        return

    port = free_port()
    server = [sys.executable, __file__, "--serve", str(port), "--objects", str(args.objects),
              "--attributes", str(args.attributes), "--options", str(args.options), "--rate", str(args.rate)]
    with tempfile.TemporaryDirectory() as tmp, serving(server, port) as base_url:
        run = run_cli(["schema", "pull", "--base-url", base_url, "--api-key", "bench-key",
                       "--db", str(Path(tmp) / "bench.db"), "--json"])
        counts = server_counts(base_url)
    summary = run.json()
    seconds = summary["seconds"]
    reads, rejected = counts["reads"], counts["rejected"]
    achieved = reads / seconds
    print(f"schema pull: {args.objects} objects x {args.attributes} attributes, {summary['options']} select "
          f"options; the server's limit {args.rate} reads in any 1 s window, over loopback HTTP")
    print(f"command  : attio-sync schema pull --base-url {base_url} --api-key ... --db FILE --json")
    print(f"reads    : {reads} answered 200; {rejected} answered 429 (counted apart)"
          + (f"; {counts['other']} other" if counts["other"] else "")
          + f"; the CLI counts {summary['requests']} requests")
    if rejected:
        at = counts["rejected_at"]
        print(f"429s at  : {min(at):.2f} to {max(at):.2f} s after the first read; "
              f"{sum(1 for t in at if t < 1.5)} of them in the first 1.5 s")
    closest, busiest = headroom([at for at, _, _ in counts["arrivals"]], args.rate)
    if closest is not None:
        print(f"headroom : the closest {args.rate + 1} arrivals (429s included) came {closest * 1000:.0f} ms apart "
              f"(under 1000: a 429); the busiest 1 s held {busiest} arrivals")
    print(f"seconds  : {seconds:.2f} the pull as the CLI times it (the cache write included); "
          f"{run.seconds:.2f} the whole process (start-up included); {counts['span']:.2f} first to last read")
    print(f"reads/s  : {achieved:.1f} = {achieved / args.rate:.3f} of the limit (aim >= 0.9, and no 429); "
          f"{reads / run.seconds:.1f} = {reads / run.seconds / args.rate:.3f} over the whole process")


if __name__ == "__main__":
    main()
