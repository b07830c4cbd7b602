"""A small world for the history, retry and CLI tests: a real sync against the sandbox whose
run ends in every outcome, with the failed events known in advance (import it explicitly).

Run 1 reads `events.jsonl` (below) with `mapping.toml` (below):

| line | message | outcome |
|---|---|---|
| 1-8 | m1..m8: identify u1..u8 | synced, except u3 and u7: Attio answers 503 to their writes (failed) |
| 9 | m9: identify u9, phone without its country | invalid (people.phone_numbers) |
| 10 | m10: identify u10, plan "Platinum" | invalid (people.plan) |
| 11 | a line cut short | invalid ((line): not JSON) |
| 12 | m12: group ws-1 (acme.com) with userId u2 | rejected: Attio answers 400 to acme.com (`world.refusal`) |
| 13 | m13: group ws-2 with userId u1 | synced |
| 14 | m14: identify u11, plan "Platinum" | invalid (people.plan) |
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from toolkit.backoff import BackoffPolicy
from toolkit.cache import Cache, open_cache
from toolkit.cli import cli
from toolkit.client import AttioClient
from toolkit.events import read_events
from toolkit.mapping import load_mapping
from toolkit.pull import pull_schema
from toolkit.sandbox import (
    SandboxApp,
    SandboxConfig,
    SandboxTransport,
    create_app,
    load_seed_file,
)
from toolkit.sandbox.faults import FaultRule
from toolkit.sync import SyncResult, run_sync

REPO = Path(__file__).resolve().parents[1]
BASE_URL = "http://localhost:8765"  # never contacted: the transport answers in process
FAILING = ("u3@example.com", "u7@example.com")

MAPPING = """
phone_region = "US"

[[action]]
kind = "identify-user"
[action.person_attributes]
plan = "$.traits.plan"
phone_numbers = "$.traits.phone"

[[action]]
kind = "group-workspace"
"""


def identify(n: int, **traits: Any) -> str:
    return json.dumps({"type": "identify", "messageId": f"m{n}", "userId": f"u{n}",
                       "traits": {"email": f"u{n}@example.com", "plan": "Pro", **traits}})


def group(n: int, user: str, workspace: str, website: str) -> str:
    return json.dumps({"type": "group", "messageId": f"m{n}", "userId": user, "groupId": workspace,
                       "traits": {"website": website}})


EVENTS = [
    *(identify(n) for n in range(1, 9)),
    identify(9, phone="7946 0958"),
    identify(10, plan="Platinum"),
    '{"type": "identify", "userId": "u99", "traits": {"email": ',
    group(12, "u2", "ws-1", "acme.com"),
    group(13, "u1", "ws-2", "globex.com"),
    json.dumps({"type": "identify", "messageId": "m14", "userId": "u11",
                "traits": {"email": "u11@example.com", "plan": "Platinum"}}),
]


class FlakyTransport(httpx.AsyncBaseTransport):
    """The sandbox, except that while `down` every write naming a failing email gets a 503."""

    def __init__(self, app: SandboxApp, needles: tuple[str, ...] = FAILING) -> None:
        self.inner = SandboxTransport(app)
        self.needles = tuple(n.encode() for n in needles)
        self.down = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        if self.down and request.method in ("PUT", "PATCH") and any(n in body for n in self.needles):
            return httpx.Response(503, json={"status_code": 503, "type": "api_error", "code": "service_unavailable",
                                             "message": "Attio is briefly unavailable"}, request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class World:
    """The sandbox, the database (`db`: a SQLite file path or a URL), the input and mapping
    files, and run 1's result."""

    root: Path
    app: SandboxApp
    db: str
    events: Path
    mapping: Path
    first: SyncResult | None = None
    refusal: FaultRule | None = None
    env: dict[str, str] = field(default_factory=dict)

    def cache(self) -> Cache:
        return open_cache(self.db)

    def client(self, transport: httpx.AsyncBaseTransport | None = None) -> AttioClient:
        return AttioClient(self.app.config.token, base_url=BASE_URL, transport=transport or SandboxTransport(self.app),
                           read_rate=5000, write_rate=5000,
                           policy=BackoffPolicy(max_attempts=2, base=0.001, cap=0.002, retry_after_cap=0.01))

    def sync(self, lines: list[str], transport: httpx.AsyncBaseTransport | None = None,
             input_name: str | None = None) -> SyncResult:
        """A real sync, as `attio-sync sync` runs it, of these lines with the world's mapping."""
        mapping = load_mapping(self.mapping)
        cache = self.cache()

        async def go() -> SyncResult:
            async with self.client(transport) as client:
                return await run_sync(cache, cache.load_schema(), mapping,
                                      read_events(io.BytesIO("\n".join(lines).encode())), client=client,
                                      input=input_name or str(self.events), concurrency=4)

        try:
            return asyncio.run(go())
        finally:
            cache.close()

    def invoke(self, *args: str) -> Result:
        """`attio-sync ARGS --db <the world's database>` through click's runner, on the sandbox."""
        return CliRunner().invoke(cli, [*args, "--db", self.db], env=self.env,
                                  obj={"transport": SandboxTransport(self.app)})

    def json(self, *args: str) -> Any:
        result = self.invoke(*args, "--json")
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)


def migrate(cache: Cache, revision: str, *, down: bool = False) -> None:
    """alembic's upgrade (or downgrade) of the cache's database to `revision`, as
    `toolkit.cache.upgrade` runs it (an older version's database, for the upgrade's tests)."""
    from alembic import command
    from alembic.config import Config

    from toolkit.cache import migrations_path

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    with cache.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def make_world(root: Path, database: str | None = None) -> World:
    """A sandbox with the example seed (a `plan` select), a pulled database (`database`, a path
    or URL; by default `audit.db` in `root`), and run 1 done."""
    config = SandboxConfig(activate=frozenset({"users", "workspaces"}), read_rate=None, write_rate=None)
    app = create_app(config, load_seed_file(REPO / "examples" / "sandbox-seed.toml", config))
    world = World(root, app, database or str(root / "audit.db"), root / "events.jsonl", root / "mapping.toml",
                  env={"ATTIO_API_KEY": app.config.token, "ATTIO_BASE_URL": BASE_URL})
    world.events.write_text("\n".join(EVENTS) + "\n")
    world.mapping.write_text(MAPPING)
    cache = world.cache()

    async def pull() -> None:
        async with world.client() as client:
            await pull_schema(client, cache)

    asyncio.run(pull())
    cache.close()
    # Attio refuses the company of line 12 until a test puts that right (app.rules.remove(...)).
    world.refusal = app.fail_requests(400, method="PUT", path="/companies/", body="acme.com")
    world.first = world.sync(EVENTS, FlakyTransport(app))
    app.clear_log()
    return world
