"""What several benchmarks share: servers in subprocesses, the real CLI run as users run it, and
the generated event streams.

The benchmarks are scripts (`python bench/x.py`), so this module is imported from the script's
own folder; it is no part of the package. Every server it starts listens on 127.0.0.1 only and
is stopped when its `with` block ends, on errors too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: What a user runs: the example mapping, and the example workspace to rehearse against.
EXAMPLE_MAPPING = ROOT / "examples" / "mapping.toml"
EXAMPLE_SEED = ROOT / "examples" / "sandbox-seed.toml"
#: The token the benchmarks' sandboxes accept (any text works; the sandbox compares it).
TOKEN = "bench" + "0" * 59

#: The mapping of the sync streams (bench/sync_requests.py): a person's job title and a
#: company's name, traits a sync could resend though unchanged.
MAPPING = """
[[action]]
kind = "identify-user"
[action.person_attributes]
job_title = "$.traits.title"

[[action]]
kind = "group-workspace"
[action.company_attributes]
name = "$.traits.name"
"""
TITLES = ("Engineer", "Designer", "Manager", "Analyst", "Founder", "Sales", "Support", "Marketing")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 15.0, server: subprocess.Popen[Any] | None = None) -> None:
    """Return once something accepts connections on 127.0.0.1:port (a server subprocess started).

    Raises:
        SystemExit: nothing listens in time, or `server` exited first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with status {server.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the sandbox server did not start on port {port}")


@contextlib.contextmanager
def serving(args: Sequence[str], port: int) -> Iterator[str]:
    """Run a server subprocess (`args`) that listens on 127.0.0.1:`port`; yield its base URL.

    It is stopped (SIGTERM, then SIGKILL after 10 s) when the block ends, however it ends.
    """
    server = subprocess.Popen(list(args), stdout=subprocess.DEVNULL, env=cli_env())
    try:
        wait_for(port, server=server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# The CLI as users run it --------------------------------------------------------------------


def cli() -> list[str]:
    """The `attio-sync` console script of this interpreter's environment (what `pip install`
    puts on PATH), or `python -m toolkit` when there is none."""
    script = Path(sys.executable).with_name("attio-sync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toolkit"]


def cli_env() -> dict[str, str]:
    """This environment without ATTIO_* variables, so only the flags a benchmark passes count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ATTIO_")}


@dataclass
class CliRun:
    """One finished `attio-sync` process: exit status, output, wall time and peak memory."""

    status: int
    stdout: str
    stderr: str
    seconds: float
    #: The process's peak resident set size (ru_maxrss from os.wait4), in MiB.
    peak_mib: float

    def json(self) -> Any:
        """The JSON the command printed (its --json summary).

        Raises:
            SystemExit: it printed no JSON (the message carries its standard error).
        """
        try:
            return json.loads(self.stdout)
        except ValueError:
            message = f"attio-sync printed no JSON (exit status {self.status}):\n{self.stderr[-2000:]}"
            raise SystemExit(message) from None


def run_cli(args: Sequence[str], *, ok: Sequence[int] = (0,)) -> CliRun:
    """Run `attio-sync ARGS` to its end; its output, wall time and peak RSS (via os.wait4).

    The output goes to temporary files rather than pipes, so nothing reaps the process before
    `os.wait4` reads its resource usage.

    Raises:
        SystemExit: the exit status is not one of `ok` (the message carries its standard error).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*cli(), *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=cli_env())
        try:
            _, wait_status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - started
        proc.returncode = status = os.waitstatus_to_exitcode(wait_status)
        out.seek(0)
        err.seek(0)
        run = CliRun(status, out.read().decode(errors="replace"), err.read().decode(errors="replace"), seconds,
                     usage.ru_maxrss / 1024)  # KiB on Linux
    if status not in ok:
        raise SystemExit(f"attio-sync {' '.join(args[:2])} exited with status {status}:\n{run.stderr[-2000:]}")
    return run


@contextlib.contextmanager
def example_sandbox(*, read_rate: int = 0, write_rate: int = 0) -> Iterator[str]:
    """`attio-sync sandbox` serving the example workspace (examples/sandbox-seed.toml, users and
    workspaces activated) on a free loopback port; yields its base URL. Rates 0: no limit."""
    port = free_port()
    args = [*cli(), "sandbox", "--port", str(port), "--seed", str(EXAMPLE_SEED), "--activate", "users,workspaces",
            "--token", TOKEN, "--read-rate", str(read_rate), "--write-rate", str(write_rate)]
    with serving(args, port) as base_url:
        yield base_url


def pull_example_schema(base_url: str, db: Path) -> dict[str, Any]:
    """`attio-sync schema pull` from the sandbox at `base_url` into the database file `db`."""
    summary: dict[str, Any] = run_cli(["schema", "pull", "--base-url", base_url, "--api-key", TOKEN,
                                       "--db", str(db), "--json"]).json()
    return summary


def example_cache(folder: Path) -> Path:
    """A database holding the example workspace's schema, pulled through the CLI from a sandbox
    over loopback (as a user rehearsing would): `folder`/schema.db. Copy it to start a run."""
    db = folder / "schema.db"
    with example_sandbox() as base_url:
        pull_example_schema(base_url, db)
    return db


def fresh_copy(db: Path, name: str) -> Path:
    """A copy of the database file `db` beside it, named `name`: the same starting state."""
    target = db.with_name(name)
    shutil.copyfile(db, target)
    return target


# The generated stream -----------------------------------------------------------------------

FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
         "Edsger", "Radia", "Tim", "Hedy", "John", "Sophie", "Guido", "Annie", "Donald", "Joan")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
        "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Wilson", "van Rossum", "Easley",
        "Knuth", "Clarke")
COMPANIES = ("Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Acme", "Vandelay",
             "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Gringotts", "Monarch", "Oscorp", "Pied Piper",
             "Massive Dynamic", "Aperture", "Black Mesa")
PLANS = ("Free", "Pro", "Enterprise")  # the options of the example workspace's `plan` select
DAY_ONE = date(2026, 1, 1)


def _workspace(w: int) -> dict[str, str]:
    company = f"{COMPANIES[w % len(COMPANIES)]} {w}"
    domain = company.lower().replace(" ", "-") + ".example.com"
    return {"id": f"ws_{w:05d}", "company": company, "domain": domain, "name": f"{company} workspace"}


def _traits(u: int, workspaces: int, changed: bool) -> tuple[dict[str, Any], str]:
    """User `u`'s identify traits (with a different plan and title when `changed`), and its workspace id."""
    ws = _workspace(u % workspaces)
    first, last = FIRST[u % len(FIRST)], LAST[(u // len(FIRST)) % len(LAST)]
    traits: dict[str, Any] = {
        "email": f"{first}.{last}.{u}".lower().replace(" ", "").replace("-", "") + f"@{ws['domain']}",
        "name": f"{first} {last}",
        "title": TITLES[(u + changed) % len(TITLES)],
        "plan": PLANS[(u + changed) % len(PLANS)],
        "signed_up_on": (DAY_ONE + timedelta(days=u % 365)).isoformat(),
    }
    if u % 5 < 3:
        traits["phone"] = f"+1 415 555 {u % 10_000:04d}"
    if u % 10 < 3:
        traits["twitter_handle"] = f"@{first.lower()}{u}"
    return traits, ws["id"]


def generate_events(path: Path, count: int, seed: int = 6) -> None:
    """`count` events as JSON lines (written as they are made) that use every attribute of the
    example mapping (examples/mapping.toml) with values the example workspace takes.

    The mix is a product's Segment stream: identifies of count/10 users (email, name, phone for
    most, plan, signed_up_on, a Twitter handle for some, and their workspace as groupId), each
    user coming back now and then with a changed plan and title; and one group call in five
    (website, companyName, workspaceName, a Twitter handle for some) of count/500 workspaces,
    by a user seen in an identify before. One identify in 2,000 has a plan that is no option
    of the select (invalid), as real streams have a few bad events; a group call by a user
    whose only identify so far was such a one names a user that does not exist yet (a real
    run fails it, "waits for users with user_id ..."). Timestamps rise with the line.
    """
    rng = random.Random(seed)
    users, workspaces = max(1, count // 10), max(1, count // 500)
    seen: list[int] = []
    known: set[int] = set()
    start = 1_767_225_600  # 2026-01-01T00:00:00Z
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            if seen and rng.random() < 0.2:
                u = seen[rng.randrange(len(seen))]
                ws = _workspace(u % workspaces)
                group_traits: dict[str, Any] = {"website": f"https://www.{ws['domain']}/",
                                                "companyName": ws["company"], "workspaceName": ws["name"]}
                if (u % workspaces) % 4 == 0:
                    group_traits["twitter_handle"] = "@" + ws["domain"].split(".")[0].replace("-", "")
                event: dict[str, Any] = {"type": "group", "userId": f"usr_{u:07d}", "groupId": ws["id"],
                                         "traits": group_traits}
            else:
                u = rng.randrange(users)
                if u not in known:
                    known.add(u)
                    seen.append(u)
                traits, group_id = _traits(u, workspaces, rng.random() < 0.1)
                if rng.random() < 0.0005:
                    traits["plan"] = "Platinum"
                event = {"type": "identify", "userId": f"usr_{u:07d}", "groupId": group_id, "traits": traits}
            event["messageId"] = f"m-{n}"
            event["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + n))
            out.write(json.dumps(event))
            out.write("\n")
