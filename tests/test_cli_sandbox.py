"""The CLI end to end over real loopback HTTP: the sandbox served by uvicorn, no injected transport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from toolkit.cli import cli
from toolkit.sandbox import SandboxConfig, create_app, serve_in_thread


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    app = create_app(SandboxConfig(token="loopback-token", activate=frozenset({"users", "workspaces"})))
    with serve_in_thread(app) as url:
        yield url


def run(args: list[str], db: Path, url: str, key: str = "loopback-token") -> Result:
    env = {"ATTIO_API_KEY": key, "ATTIO_BASE_URL": url, "ATTIO_SYNC_DB": str(db)}
    return CliRunner().invoke(cli, args, env=env)


def test_pull_over_loopback_then_check_values(sandbox_url: str, cache_path: Path) -> None:
    pulled = run(["schema", "pull", "--json"], cache_path, sandbox_url)
    assert pulled.exit_code == 0, pulled.output
    summary = json.loads(pulled.output)
    assert {"people", "companies", "users", "workspaces"} <= set(summary["objects"])
    assert summary["inactive"] == {}

    ok = run(["value", "people.phone_numbers", "+15558675309", "--json"], cache_path, sandbox_url)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["value"][0]["original_phone_number"] == "+15558675309"

    name = json.loads(run(["value", "people.name", "Bloggs, Joe", "--json"], cache_path, sandbox_url).output)
    assert name["value"] == [{"first_name": "Joe", "last_name": "Bloggs", "full_name": "Joe Bloggs"}]

    bad = run(["value", "people.email_addresses", "not-an-email"], cache_path, sandbox_url)
    assert bad.exit_code == 1
    assert "problem" in bad.output and "people.email_addresses" in bad.output

    unknown = run(["value", "people.twiter", "x", "--json"], cache_path, sandbox_url)
    assert unknown.exit_code == 1
    assert "twitter" in json.loads(unknown.output)["problems"][0]["hint"]


def test_a_wrong_key_over_loopback_is_one_clear_line(sandbox_url: str, cache_path: Path) -> None:
    result = run(["schema", "pull"], cache_path, sandbox_url, key="wrong-token")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Attio refused the API key")
    assert "wrong-token" not in result.output


def test_value_without_a_cache_says_to_pull(cache_path: Path) -> None:
    result = CliRunner().invoke(cli, ["value", "people.name", "x"], env={"ATTIO_SYNC_DB": str(cache_path)})
    assert result.exit_code == 1 and "schema pull" in result.output
