"""Benchmark: peak memory of a dry run over a large input, and whether it grows with the input.

The events (a mix like a real Segment export: identifies of N/10 users, each now and then with
a changed job title, and one group in five, to N/500 workspaces) are written to a temporary
JSON-lines file first, a line at a time. Each measurement is then a fresh subprocess (so the
generator's memory never counts) that loads the pulled schema and runs `run_sync` without a client
(a dry run: every event planned, validated and audited, nothing sent); its peak RSS is read
from `os.wait4` when it exits. The baseline is the same subprocess stopping after the imports
and the schema load.

It prints, per size, events, seconds, events per second and peak RSS, with the RSS as a ratio
of the aim (150 MB at 1,000,000 events) and its growth over the baseline. Constant memory is
the point: the RSS of the larger sizes should match the smaller ones.

    .venv/bin/python bench/sync_memory.py [--events 50000,150000] [--limit-mb 150]

The default sizes keep `make bench` short (about 75 s); the aim's own size is
`--events 100000,1000000`, which took 9 minutes on a 2-core machine (peak 120.2 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import MAPPING, TITLES  # noqa: E402  (bench/common.py)


def generate(path: Path, count: int, seed: int = 6) -> None:
    """`count` events as JSON lines, written as they are made."""
    rng = random.Random(seed)
    users, workspaces = max(1, count // 10), max(1, count // 500)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            u = rng.randrange(users)
            if rng.random() < 0.2:
                w = u % workspaces
                event: dict[str, Any] = {"type": "group", "userId": f"user-{u}", "groupId": f"ws-{w}",
                                         "traits": {"name": f"Company {w}", "website": f"https://company{w}.example.com"}}
            else:
                title = TITLES[(u + (rng.random() < 0.1)) % len(TITLES)]
                event = {"type": "identify", "userId": f"user-{u}",
                         "traits": {"email": f"user{u}@example.com", "title": title, "name": f"User {u}"}}
            event["messageId"] = f"m-{n}"
            event["timestamp"] = f"2026-01-01T00:00:{n % 60:02d}Z"
            out.write(json.dumps(event))
            out.write("\n")


def pull(cache_path: Path) -> None:
    """A cache holding the sandbox's schema (users and workspaces active), as `schema pull` makes."""
    from toolkit.cache import open_cache
    from toolkit.client import AttioClient
    from toolkit.pull import pull_schema
    from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app

    async def go() -> None:
        app = create_app(SandboxConfig.unlimited(activate=frozenset({"users", "workspaces"})))
        cache = open_cache(str(cache_path))
        async with AttioClient(app.config.token, base_url="https://api.attio.test", transport=SandboxTransport(app),
                               read_rate=10_000) as client:
            await pull_schema(client, cache)
        cache.close()

    asyncio.run(go())


def child(cache_path: str, events_path: str | None) -> None:
    """In the subprocess: load the schema, then (unless baseline) dry-run the file; print JSON."""
    from toolkit.cache import open_cache
    from toolkit.events import read_events
    from toolkit.mapping import parse_mapping
    from toolkit.sync import run_sync

    cache = open_cache(cache_path)
    schema = cache.load_schema()
    mapping = parse_mapping(MAPPING)
    report: dict[str, Any] = {"events": 0, "seconds": 0.0}
    if events_path is not None:
        with open(events_path, "rb") as stream:
            result = asyncio.run(run_sync(cache, schema, mapping, read_events(stream), input=events_path,
                                          base_url="https://api.attio.test"))
        report = {"events": sum(result.counts.values()), "seconds": result.seconds, "counts": result.counts,
                  "would_write": result.would_write}
    cache.close()
    print(json.dumps(report))


def measure(cache_path: Path, events_path: Path | None) -> tuple[dict[str, Any], float]:
    """Run the child; its report and its peak RSS in MB."""
    args = [sys.executable, __file__, "--child", str(cache_path)]
    if events_path is not None:
        args += ["--input", str(events_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the measured subprocess failed with exit status {proc.returncode}")
    return json.loads(out), usage.ru_maxrss / 1024  # KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="50000,150000", help="comma-separated sizes, each measured apart")
    parser.add_argument("--limit-mb", type=float, default=150.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.input)
        return
    sizes = [int(s) for s in args.events.split(",") if s.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        pull(base / "schema.db")
        _, baseline = measure(base / "schema.db", None)
        rows = []
        for size in sizes:
            events_path = base / f"events-{size}.jsonl"
            generate(events_path, size)
            cache_path = base / f"cache-{size}.db"
            cache_path.write_bytes((base / "schema.db").read_bytes())  # each size starts from the same cache
            report, rss = measure(cache_path, events_path)
            rows.append((size, report, rss, events_path.stat().st_size))
            events_path.unlink()
            cache_path.unlink()

    print(f"dry-run memory: peak RSS of a subprocess; aim <= {args.limit_mb:.0f} MB at 1,000,000 events")
    print(f"{'':>10}  {'input MB':>8}  {'seconds':>8}  {'events/s':>8}  {'ms/event':>8}  {'peak MB':>8}  "
          f"{'x aim':>6}  {'over baseline':>13}")
    print(f"{'baseline':>10}  {'':>8}  {'':>8}  {'':>8}  {'':>8}  {baseline:8.1f}  {baseline / args.limit_mb:6.3f}  "
          f"{'(imports + schema)':>13}")
    for size, report, rss, file_size in rows:
        seconds = report["seconds"]
        print(f"{size:>10,}  {file_size / 1e6:8.1f}  {seconds:8.1f}  {size / seconds:8.0f}  "
              f"{1000 * seconds / size:8.3f}  "
              f"{rss:8.1f}  {rss / args.limit_mb:6.3f}  {rss - baseline:+12.1f}M")
    if len(rows) > 1:
        (small, _, small_rss, _), (large, _, large_rss, _) = rows[0], rows[-1]
        per = (large_rss - small_rss) / (large - small) * 1e6
        print(f"growth    : {large_rss - small_rss:+.1f} MB from {small:,} to {large:,} events "
              f"= {per:+.1f} MB per million events (constant memory: about 0)")
    for size, report, _, _ in rows:
        print(f"outcomes at {size:,}: " + ", ".join(f"{k} {v}" for k, v in report["counts"].items() if v)
              + f"; would write {report['would_write']}")


if __name__ == "__main__":
    main()
