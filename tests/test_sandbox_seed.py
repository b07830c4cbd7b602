"""Seeding the sandbox: seed files (TOML and JSON), a pulled workspace (`WorkspaceSchema.as_dict()`,
the local cache), and the `attio-sync sandbox` command that serves them."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sandbox_fixtures import Harness

from toolkit.sandbox import (
    SandboxApp,
    SandboxConfig,
    SeedError,
    from_schema_dict,
    load_seed_file,
    standard_schema,
)
from toolkit.schema import WorkspaceSchema

SEED_TOML = """
[workspace]
name = "Acme Rehearsal"
slug = "acme"
activate = ["workspaces"]

[[members]]
email_address = "ops@acme.com"
first_name = "Ops"
last_name = "Person"

[[objects]]
api_slug = "projects"
singular_noun = "Project"
plural_noun = "Projects"

[[attributes]]
object = "projects"
api_slug = "code"
type = "text"
is_unique = true
is_required = true

[[attributes]]
object = "projects"
api_slug = "client"
type = "record-reference"
allowed_objects = ["companies"]
relationship = { object = "companies", api_slug = "projects", title = "Projects", is_multiselect = true }

[[attributes]]
object = "projects"
api_slug = "phase"
type = "status"
statuses = ["Draft", { title = "Live", celebration_enabled = true }]

[[options]]
object = "companies"
attribute = "categories"
title = "Robotics"
"""


def seed_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_seed_adds_objects_attributes_options_and_members(tmp_path: Path, make_sandbox) -> None:
    config = SandboxConfig()
    schema = load_seed_file(seed_file(tmp_path, "seed.toml", SEED_TOML), config)
    harness: Harness = make_sandbox(config, schema)
    me = harness.client.get("/v2/self").json()
    assert (me["workspace_name"], me["workspace_slug"]) == ("Acme Rehearsal", "acme")
    slugs = [o["api_slug"] for o in harness.client.get("/v2/objects").json()["data"]]
    assert slugs == ["people", "companies", "workspaces", "projects"]
    members = [m["email_address"] for m in harness.client.get("/v2/workspace_members").json()["data"]]
    assert "ops@acme.com" in members
    titles = [o["title"]
              for o in harness.client.get("/v2/objects/companies/attributes/categories/options").json()["data"]]
    assert titles[-1] == "Robotics"
    phase = harness.client.get("/v2/objects/projects/attributes/phase/statuses").json()["data"]
    assert [(s["title"], s["celebration_enabled"]) for s in phase] == [("Draft", False), ("Live", True)]
    # The custom relationship is kept in sync like the standard ones.
    company = harness.ok(harness.create("companies", {"domains": ["acme.com"], "categories": ["Robotics"]}))
    project = harness.ok(harness.create("projects", {"code": "P-1", "client": "acme.com", "phase": "Live"}))
    fetched = harness.ok(harness.get("companies", company["id"]["record_id"]))
    assert [v["target_record_id"] for v in fetched["values"]["projects"]] == [project["id"]["record_id"]]
    missing = harness.create("projects", {"phase": "Draft"})
    assert missing.json()["code"] == "missing_value"
    assert project["web_url"].startswith("https://app.attio.com/acme/project/")


def test_json_seed_reads_the_same(tmp_path: Path) -> None:
    import tomllib

    data = tomllib.loads(SEED_TOML)
    from_json = load_seed_file(seed_file(tmp_path, "seed.json", json.dumps(data)))
    from_toml = load_seed_file(seed_file(tmp_path, "seed.toml", SEED_TOML))
    assert from_json == from_toml


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"attributes": [{"object": "projects", "api_slug": "x", "type": "text"}]}, "not in the sandbox"),
        ({"attributes": [{"object": "people", "api_slug": "x", "type": "blob"}]}, "unknown type"),
        ({"attributes": [{"object": "people", "api_slug": "name", "type": "text"}]}, "already exists"),
        ({"objects": [{"api_slug": "people"}]}, "already exists"),
        ({"options": [{"object": "people", "attribute": "nope", "title": "x"}]}, "no attribute"),
        ({"workspace": {"activate": ["tickets"]}}, "activated"),
    ],
)
def test_bad_seeds_are_refused(data: dict[str, Any], match: str) -> None:
    with pytest.raises(SeedError, match=match):
        from_schema_dict(data)


def test_unreadable_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError):
        load_seed_file(seed_file(tmp_path, "seed.toml", "not = [valid"))


def test_as_dict_round_trip_serves_the_same_schema(make_sandbox) -> None:
    config = SandboxConfig(activate={"users", "deals"})
    original = standard_schema(config)
    copy = from_schema_dict(json.loads(json.dumps(original.as_dict())), config)
    assert copy == original
    a, b = make_sandbox(config, original), make_sandbox(config, copy)
    for path in ("/v2/objects", "/v2/objects/users/attributes", "/v2/objects/deals/attributes/stage/statuses"):
        assert a.client.get(path).json() == b.client.get(path).json()


def pulled_copy(harness: Harness) -> WorkspaceSchema:
    """What `schema pull` would build from this sandbox's answers."""
    get = harness.client.get
    objects = get("/v2/objects").json()["data"]
    attributes = {o["api_slug"]: get(f"/v2/objects/{o['api_slug']}/attributes",
                                     params={"show_archived": "true"}).json()["data"] for o in objects}
    options, statuses = [], []
    for slug, attrs in attributes.items():
        for attr in attrs:
            if attr["type"] == "select":
                options += get(f"/v2/objects/{slug}/attributes/{attr['api_slug']}/options",
                               params={"show_archived": "true"}).json()["data"]
            if attr["type"] == "status":
                statuses += get(f"/v2/objects/{slug}/attributes/{attr['api_slug']}/statuses",
                                params={"show_archived": "true"}).json()["data"]
    return WorkspaceSchema.from_api(self_body=get("/v2/self").json(), objects=objects, attributes=attributes,
                                    options=options, statuses=statuses,
                                    members=get("/v2/workspace_members").json()["data"])  # fmt: skip


def test_a_pulled_workspace_is_served_as_it_is(make_sandbox) -> None:
    source = make_sandbox(SandboxConfig(activate={"workspaces"}))
    pulled = pulled_copy(source)
    assert pulled == source.app.catalog.schema  # the sandbox serves its schema without loss
    rehearsal = make_sandbox(SandboxConfig(), from_schema_dict(pulled.as_dict()))
    for path in ("/v2/objects", "/v2/objects/companies/attributes", "/v2/workspace_members"):
        assert rehearsal.client.get(path).json() == source.client.get(path).json()
    record = rehearsal.ok(rehearsal.assert_("workspaces", "workspace_id", {"workspace_id": "w-1"}))
    assert record["id"]["object_id"] == pulled.object("workspaces").object_id


def test_command_from_cache_serves_the_pulled_schema(tmp_path: Path, make_sandbox, monkeypatch) -> None:
    from toolkit import cache as cache_module
    from toolkit.models import SchemaPull
    from toolkit.sandbox import command

    pulled = pulled_copy(make_sandbox(SandboxConfig(activate={"users"})))
    url = f"sqlite:///{tmp_path / 'attio-sync.db'}"
    cache = cache_module.open_cache(url)
    cache.save_schema(pulled, SchemaPull(started_at=datetime.now(UTC), base_url="https://api.attio.com"))
    cache.close()
    served: list[SandboxApp] = []
    monkeypatch.setattr(command, "_serve", lambda app, port: served.append(app))
    result = CliRunner().invoke(command.sandbox, ["--from-cache", "--db", str(tmp_path / "attio-sync.db"),
                                                  "--write-rate", "0", "--faults", "500=0.1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (app,) = served
    assert sorted(o.api_slug for o in app.catalog.schema.objects) == sorted(o.api_slug for o in pulled.objects)
    users = app.catalog.object("users")
    assert users is not None and [a.api_slug for a in app.catalog.attributes_of(users)][:3] == [
        "record_id", "user_id", "primary_email_address"]
    assert (app.config.write_rate, app.config.read_rate, app.config.faults.rate_500) == (None, 100, 0.1)
    assert len(app.config.token) == 64


def test_command_options_and_errors(tmp_path: Path, monkeypatch) -> None:
    from toolkit.sandbox import command

    served: list[SandboxApp] = []
    monkeypatch.setattr(command, "_serve", lambda app, port: served.append(app))
    runner = CliRunner()
    ok = runner.invoke(command.sandbox, ["--activate", "users,workspaces", "--token", "t" * 64, "--latency", "0.1"])
    assert ok.exit_code == 0, ok.output
    assert served[-1].config.activate == {"users", "workspaces"} and served[-1].config.token == "t" * 64
    assert served[-1].config.latency == 0.1
    seed = seed_file(tmp_path, "seed.toml", SEED_TOML)
    assert runner.invoke(command.sandbox, ["--seed", str(seed)]).exit_code == 0
    assert served[-1].catalog.object("projects") is not None
    bad = runner.invoke(command.sandbox, ["--seed", str(seed_file(tmp_path, "bad.json", "{"))])
    assert bad.exit_code == 1 and "cannot read seed file" in bad.output
    assert runner.invoke(command.sandbox, ["--faults", "teapot=1"]).exit_code == 2
    both = runner.invoke(command.sandbox, ["--seed", str(seed), "--from-cache"])
    assert both.exit_code == 2
    empty = runner.invoke(command.sandbox, ["--from-cache", "--db", str(tmp_path / "empty.db")])
    assert empty.exit_code == 1 and "schema pull" in empty.output


def test_command_prints_url_and_token(monkeypatch) -> None:
    import uvicorn

    from toolkit.sandbox import command

    calls: list[dict[str, Any]] = []

    def run(server: uvicorn.Server, sockets: list[Any]) -> None:
        (sock,) = sockets
        calls.append({"host": server.config.host, "port": server.config.port, "bound": sock.getsockname(),
                      "log_level": server.config.log_level, "lifespan": server.config.lifespan})

    monkeypatch.setattr(uvicorn.Server, "run", run)
    with socket.socket() as free:  # a port nothing else holds, not a fixed one another test may use
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = CliRunner().invoke(command.sandbox, ["--port", str(port), "--token", "k" * 64])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}" in result.output and "k" * 64 in result.output
    assert calls == [{"host": "127.0.0.1", "port": port, "bound": ("127.0.0.1", port), "log_level": "warning",
                      "lifespan": "on"}]
