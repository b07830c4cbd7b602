"""Benchmark: requests a sync sends per event on a realistic stream, and on a re-run.

The stream (generated from a seed, so every run is the same): 2,000 users and 20,000 events.
Each user identifies about 8 times, mostly with the same traits; now and then (1 identify in
12 after the first) a job title changes. About one event in five is a group: each user joins
one of 200 workspaces (each with its company's website) and repeats that group now and then.
A user's first event is an identify. The mapping sends the person's job title and the
company's name, so an unchanged trait is something a sync could resend.

Attio's hosted Segment destination sends two writes per event (an assert of each record),
whatever changed. The figure is requests per event as a ratio of those 2.0 (aim <= 0.5), and
the requests of a second run of the same file (aim: 0, every event a duplicate). A third run
gives the same events new messageIds, so only the record state can spare the requests.

The sandbox runs in-process with its limits off and the client's budgets high, so this
measures requests, not time.

    .venv/bin/python bench/sync_requests.py [--users 2000] [--events 20000] [--workspaces 200] [--seed 6]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import MAPPING, TITLES  # noqa: E402  (bench/common.py)

from toolkit.cache import Cache, open_cache
from toolkit.client import AttioClient
from toolkit.events import read_events
from toolkit.mapping import EventMapping, parse_mapping
from toolkit.pull import pull_schema
from toolkit.sandbox import SandboxApp, SandboxConfig, SandboxTransport, create_app
from toolkit.schema import WorkspaceSchema
from toolkit.sync import SyncResult, run_sync

HOSTED_WRITES_PER_EVENT = 2.0
BASE_URL = "https://api.attio.test"


def generate(users: int, events: int, workspaces: int, seed: int) -> list[dict[str, Any]]:
    """The stream, in time order: per user, an identify first, then identifies and groups."""
    rng = random.Random(seed)
    per_user = [1] * users  # every user identifies at least once
    for _ in range(events - users):
        per_user[rng.randrange(users)] += 1
    timeline: list[tuple[float, int, dict[str, Any]]] = []
    for u, count in enumerate(per_user):
        title = rng.choice(TITLES)
        workspace = rng.randrange(workspaces)
        times = sorted(rng.random() for _ in range(count))
        for k, at in enumerate(times):
            stamp = f"2026-01-01T{int(at * 86400) // 3600:02d}:{int(at * 86400) % 3600 // 60:02d}:" \
                    f"{at * 86400 % 60:06.3f}Z"
            if k > 0 and rng.random() < 0.2:
                event: dict[str, Any] = {"type": "group", "userId": f"user-{u}", "groupId": f"ws-{workspace}",
                                         "traits": {"name": f"Company {workspace}",
                                                    "website": f"https://company{workspace}.example.com"}}
            else:
                if k > 0 and rng.random() < 1 / 12:
                    title = rng.choice([t for t in TITLES if t != title])
                event = {"type": "identify", "userId": f"user-{u}",
                         "traits": {"email": f"user{u}@example.com", "title": title}}
            timeline.append((at, u * 1000 + k, {**event, "timestamp": stamp}))
    timeline.sort(key=lambda item: item[0])
    return [{**event, "messageId": f"m-{n}"} for n, (_, _, event) in enumerate(timeline)]


def encode(events: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(e) for e in events).encode()


def client(app: SandboxApp) -> AttioClient:
    return AttioClient(app.config.token, base_url=BASE_URL, transport=SandboxTransport(app),
                       read_rate=10_000, write_rate=10_000)


async def pull(app: SandboxApp, cache: Cache) -> WorkspaceSchema:
    async with client(app) as c:
        await pull_schema(c, cache)
    return cache.load_schema()


async def sync(app: SandboxApp, cache: Cache, schema: WorkspaceSchema, mapping: EventMapping, data: bytes,
               label: str) -> tuple[SyncResult, int]:
    """One run; returns its result and the requests the sandbox logged for it."""
    app.clear_log()
    async with client(app) as c:
        result = await run_sync(cache, schema, mapping, read_events(io.BytesIO(data)), client=c, input=label,
                                concurrency=16)
    return result, len(app.log)


def outcomes(result: SyncResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in result.counts.items() if v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workspaces", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    if args.events < args.users:
        parser.error("--events must be at least --users (every user identifies once)")

    events = generate(args.users, args.events, args.workspaces, args.seed)
    kinds = Counter(e["type"] for e in events)
    data = encode(events)
    renamed = encode([{**e, "messageId": f"again-{e['messageId']}"} for e in events])
    app = create_app(SandboxConfig.unlimited(activate=frozenset({"users", "workspaces"})))
    mapping = parse_mapping(MAPPING)
    with tempfile.TemporaryDirectory() as tmp:
        cache = open_cache(str(Path(tmp) / "bench.db"))
        try:
            schema = asyncio.run(pull(app, cache))
            first, sent = asyncio.run(sync(app, cache, schema, mapping, data, "first"))
            by_kind = Counter(f"{e.method} {e.path.split('/')[3]}" for e in app.log)
            second, again = asyncio.run(sync(app, cache, schema, mapping, data, "same file"))
            third, renamed_sent = asyncio.run(sync(app, cache, schema, mapping, renamed, "new messageIds"))
        finally:
            cache.close()

    per_event = sent / len(events)
    print(f"sync requests: {args.users} users, {len(events)} events ({kinds['identify']} identify, "
          f"{kinds['group']} group), {args.workspaces} workspaces, seed {args.seed}")
    print(f"first run      : {outcomes(first)}; {first.seconds:.1f} s")
    print(f"requests       : {sent} ({', '.join(f'{n} {k}' for k, n in by_kind.most_common())})")
    print(f"requests/event : {per_event:.3f} = {per_event / HOSTED_WRITES_PER_EVENT:.3f} of the hosted "
          f"destination's {HOSTED_WRITES_PER_EVENT:.0f} writes/event (aim <= 0.5)")
    print(f"same file again: {again} requests (aim 0); {outcomes(second)}")
    print(f"new messageIds : {renamed_sent} requests; {outcomes(third)}")


if __name__ == "__main__":
    main()
