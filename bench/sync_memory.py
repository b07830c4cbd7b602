"""Benchmark: peak memory of `attio-sync sync --dry-run` over a large input, and whether it grows.

What is measured is the CLI as a user runs it, one process per size:

    attio-sync sync EVENTS --mapping examples/mapping.toml --dry-run --db CACHE --json

Its peak RSS is read from `os.wait4` when it exits. CACHE is a fresh copy of a database holding
the example workspace's schema (examples/sandbox-seed.toml, users and workspaces activated),
pulled with `attio-sync schema pull` from `attio-sync sandbox` over loopback, so every size
starts from the same state. EVENTS is generated first (bench/common.py `generate_events`: a
product's Segment stream that fills every attribute of the example mapping; N/10 users, N/500
workspaces, one group call in five), a line at a time, so the generator's memory never counts.
The baseline is the same command on an empty file: start-up, imports and the schema load.

It prints, per size, events, seconds, events per second and peak RSS in MiB, with the RSS as a
ratio of the aim and its growth over the baseline, then the growth per million events between
the sizes. Aim (issue 16, item 6): at most 120 MiB at 1,000,000 events, and flat after the first
100,000 (growth per million about 0).

    .venv/bin/python bench/sync_memory.py [--events 50000,150000] [--limit-mib 120]

The default sizes keep `make bench` short; the aim's own sizes are `--events 100000,1000000`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402  (bench/common.py)
    EXAMPLE_MAPPING,
    CliRun,
    example_cache,
    fresh_copy,
    generate_events,
    run_cli,
)


def dry_run(events: Path, db: Path) -> CliRun:
    """The measured command; exit status 1 is fine (the stream has a few invalid events)."""
    return run_cli(["sync", str(events), "--mapping", str(EXAMPLE_MAPPING), "--dry-run", "--db", str(db), "--json"],
                   ok=(0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="50000,150000", help="comma-separated sizes, each measured apart")
    parser.add_argument("--limit-mib", type=float, default=120.0, help="the aim at 1,000,000 events")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",") if s.strip()]

    rows: list[tuple[int, dict[str, Any], CliRun, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        schema = example_cache(base)
        empty = base / "empty.jsonl"
        empty.write_bytes(b"")
        baseline = run_cli(["sync", str(empty), "--mapping", str(EXAMPLE_MAPPING), "--dry-run",
                            "--db", str(fresh_copy(schema, "baseline.db"))])
        for size in sizes:
            events = base / f"events-{size}.jsonl"
            generate_events(events, size)
            db = fresh_copy(schema, f"cache-{size}.db")
            run = dry_run(events, db)
            rows.append((size, run.json(), run, events.stat().st_size))
            events.unlink()
            db.unlink()

    limit = args.limit_mib
    print(f"dry-run memory: peak RSS of `attio-sync sync EVENTS --mapping examples/mapping.toml --dry-run` "
          f"(os.wait4); aim <= {limit:.0f} MiB at 1,000,000 events, flat after 100,000")
    print(f"{'events':>10}  {'input MB':>8}  {'seconds':>8}  {'events/s':>8}  {'peak MiB':>8}  {'x aim':>6}  "
          f"{'over baseline':>13}")
    print(f"{'baseline':>10}  {'':>8}  {baseline.seconds:8.2f}  {'':>8}  {baseline.peak_mib:8.1f}  "
          f"{baseline.peak_mib / limit:6.3f}  {'(empty file)':>13}")
    for size, _, run, file_size in rows:
        print(f"{size:>10,}  {file_size / 1e6:8.1f}  {run.seconds:8.1f}  {size / run.seconds:8.0f}  "
              f"{run.peak_mib:8.1f}  {run.peak_mib / limit:6.3f}  {run.peak_mib - baseline.peak_mib:+11.1f}Mi")
    print("seconds and events/s are the whole process's (start-up included)")
    for (small, _, small_run, _), (large, _, large_run, _) in zip(rows, rows[1:], strict=False):
        growth = large_run.peak_mib - small_run.peak_mib
        print(f"growth    : {growth:+.1f} MiB from {small:,} to {large:,} events = "
              f"{growth / (large - small) * 1e6:+.1f} MiB per million events (flat: about 0)")
    for size, summary, _, _ in rows:
        counts = ", ".join(f"{k} {summary[k]}" for k in ("synced", "unchanged", "invalid", "rejected", "failed",
                                                          "duplicate") if summary.get(k))
        print(f"outcomes at {size:,}: {counts}; would write {summary['would_write']}")
    for size, _, run, _ in rows:
        if size >= 1_000_000:  # the aim is for a million events; a larger size is held to it too
            verdict = "met" if run.peak_mib <= limit else "NOT met"
            print(f"aim at {size:,} events: {run.peak_mib:.1f} MiB vs {limit:.0f} MiB: {verdict}")


if __name__ == "__main__":
    main()
