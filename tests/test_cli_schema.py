"""`attio-sync schema pull|show|diff` through click's runner on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from attio_data import workspace
from click.testing import CliRunner, Result
from fake_attio import FakeAttio

from toolkit.cli import cli

KEY = "test-key"


def invoke(args: list[str], db: Path, fake: FakeAttio | httpx.MockTransport | None = None,
           key: str | None = KEY) -> Result:
    transport = fake.transport() if isinstance(fake, FakeAttio) else fake
    env = {"ATTIO_SYNC_DB": str(db), "ATTIO_BASE_URL": "https://api.attio.test"}
    if key:
        env["ATTIO_API_KEY"] = key
    return CliRunner().invoke(cli, args, env=env, obj={"transport": transport} if transport else None)


def test_pull_prints_a_summary_and_fills_the_cache(cache_path: Path) -> None:
    result = invoke(["schema", "pull"], cache_path, FakeAttio(workspace()))
    assert result.exit_code == 0, result.output
    assert "Pulled Acme" in result.output
    assert "people" in result.output and "users: activated" in result.output
    rows = sqlite3.connect(cache_path).execute("select count(*) from attribute").fetchone()[0]
    assert rows == 26


def test_pull_warns_about_objects_that_are_not_activated(cache_path: Path) -> None:
    result = invoke(["schema", "pull", "--json"], cache_path, FakeAttio(workspace(users=False)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert list(summary["inactive"]) == ["users"]
    assert summary["objects"]["people"] == 9
    text = invoke(["schema", "pull"], cache_path, FakeAttio(workspace(users=False))).output
    assert "users: NOT activated" in text and "Activate Users" in " ".join(text.split())


def test_pull_never_writes_the_key(cache_path: Path) -> None:
    invoke(["schema", "pull"], cache_path, FakeAttio(workspace()))
    assert KEY.encode() not in cache_path.read_bytes()
    for sidecar in cache_path.parent.glob(cache_path.name + "*"):
        assert KEY.encode() not in sidecar.read_bytes()


@pytest.mark.parametrize(
    ("fake", "key", "expected"),
    [
        (FakeAttio(workspace(), token="other"), KEY, "refused the API key"),
        (httpx.MockTransport(lambda r: (_ for _ in ()).throw(httpx.ConnectError("[Errno 111] Connection refused"))),
         KEY, "cannot reach https://api.attio.test"),
        (httpx.MockTransport(lambda r: httpx.Response(503, text="<html>Service Unavailable</html>",
                                                      headers={"content-type": "text/html"})),
         KEY, "did not answer successfully"),
        (httpx.MockTransport(lambda r: httpx.Response(403, json={"status_code": 403, "type": "auth_error",
                                                                 "code": "forbidden", "message": "Missing scope"})),
         KEY, "scopes"),
        (FakeAttio(workspace()), None, "ATTIO_API_KEY"),
    ],
)
def test_errors_a_user_meets_are_one_clear_line(cache_path: Path, fake: object, key: str | None, expected: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("toolkit.backoff.BackoffPolicy.backoff_seconds", lambda self, attempt: 0.0)
    result = invoke(["schema", "pull"], cache_path, fake, key=key)  # type: ignore[arg-type]
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert expected in " ".join(result.output.split())
    assert result.output.startswith("Error: ")
    assert KEY not in result.output


def test_show_lists_objects_and_one_objects_attributes(cache_path: Path) -> None:
    invoke(["schema", "pull"], cache_path, FakeAttio(workspace()))
    objects = json.loads(invoke(["schema", "show", "--json"], cache_path).output)
    assert [o["api_slug"] for o in objects] == ["people", "companies", "users", "workspaces", "deals"]
    people = {a["api_slug"]: a for a in json.loads(invoke(["schema", "show", "people", "--json"], cache_path).output)}
    assert people["email_addresses"]["is_unique"] and people["email_addresses"]["is_multiselect"]
    assert people["plan"]["options"] == ["Free", "Pro", "Enterprise"]  # the archived one is not offered
    assert people["legacy_score"]["is_archived"] and not people["avatar_url"]["is_writable"]
    table = invoke(["schema", "show", "people"], cache_path).output
    assert "email_addresses" in table and "personal-name" in table


def test_show_without_a_pull_says_to_pull(cache_path: Path) -> None:
    result = invoke(["schema", "show"], cache_path)
    assert result.exit_code == 1 and "attio-sync schema pull" in result.output


def test_show_an_unknown_object(cache_path: Path) -> None:
    invoke(["schema", "pull"], cache_path, FakeAttio(workspace(workspaces=False)))
    result = invoke(["schema", "show", "workspaces"], cache_path)
    assert result.exit_code == 1 and "not activated" in result.output


def test_diff_lists_changes_between_the_last_two_pulls(cache_path: Path) -> None:
    assert "needs two pulls" in invoke(["schema", "diff"], cache_path).output
    invoke(["schema", "pull"], cache_path, FakeAttio(workspace(workspaces=False)))
    changed = workspace()
    changed["attributes"]["people"][5]["is_archived"] = True  # twitter
    invoke(["schema", "pull"], cache_path, FakeAttio(changed))
    result = invoke(["schema", "diff", "--json"], cache_path)
    assert result.exit_code == 0, result.output
    changes = json.loads(result.output)["changes"]
    assert {"kind": "object activated", "subject": "workspaces", "detail": ""} in changes
    assert {"kind": "attribute archived", "subject": "people.twitter", "detail": ""} in changes
    assert "attribute archived" in invoke(["schema", "diff"], cache_path).output


def test_every_command_has_help() -> None:
    import click

    def walk(group: click.Group, prefix: str = ""):  # type: ignore[no-untyped-def]
        for name in group.list_commands(click.Context(group)):  # the root's commands load when asked for
            command = group.get_command(click.Context(group), name)
            assert command is not None, name
            yield prefix + name, command
            if isinstance(command, click.Group):
                yield from walk(command, prefix + name + " ")

    for name, command in walk(cli):
        assert command.help, f"`attio-sync {name}` has no help"
        assert CliRunner().invoke(cli, [*name.split(), "--help"]).exit_code == 0
