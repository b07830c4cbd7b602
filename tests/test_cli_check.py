"""`attio-sync check` through click's runner on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from schema_factory import build_schema

from toolkit.cache import open_cache
from toolkit.cli import cli
from toolkit.models import SchemaPull
from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app, load_seed_file
from toolkit.schema import WorkspaceSchema

KEY = "test-key"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def invoke(args: list[str], db: Path, transport: Any = None) -> Result:
    env = {"ATTIO_SYNC_DB": str(db), "ATTIO_BASE_URL": "https://api.attio.test", "ATTIO_API_KEY": KEY}
    return CliRunner().invoke(cli, ["check", *args], env=env, obj={"transport": transport} if transport else None)


def cached(db: Path, schema: WorkspaceSchema | None = None, *, age: timedelta = timedelta(minutes=5)) -> None:
    """Store a schema snapshot as if pulled `age` ago."""
    finished = datetime.now(UTC) - age
    cache = open_cache(str(db))
    try:
        cache.save_schema(schema or build_schema(),
                          SchemaPull(started_at=finished, finished_at=finished, base_url="https://api.attio.test"))
    finally:
        cache.close()


def sandbox() -> SandboxTransport:
    """The example workspace (examples/sandbox-seed.toml), which the example mapping is for."""
    config = SandboxConfig(token=KEY)
    return SandboxTransport(create_app(config, load_seed_file(EXAMPLES / "sandbox-seed.toml", config)))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_without_a_cached_schema_it_says_to_pull_and_fails(cache_path: Path) -> None:
    result = invoke([str(EXAMPLES / "mapping.toml")], cache_path)
    assert result.exit_code == 1
    assert "schema pull" in result.output and "1 error, 0 warnings" in result.output


def test_pull_then_check_the_example_mapping_clean(cache_path: Path) -> None:
    result = invoke([str(EXAMPLES / "mapping.toml"), "--pull"], cache_path, sandbox())
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output
    assert "mapping.toml (2 actions)" in result.output
    assert invoke([str(EXAMPLES / "mapping.toml")], cache_path).exit_code == 0  # the pull was cached


def test_without_a_mapping_the_default_actions_are_checked(cache_path: Path) -> None:
    cached(cache_path)
    result = invoke([], cache_path)
    assert result.exit_code == 0, result.output
    assert "(default mapping) (2 actions)" in result.output and "0 errors, 0 warnings" in result.output


def test_findings_are_a_table_per_action_and_an_error_exits_1(cache_path: Path, tmp_path: Path) -> None:
    cached(cache_path)
    mapping = write(tmp_path, '[[action]]\nkind = "identify-user"\n[action.person_attributes]\n'
                              'twiter = "$.traits.twitter"\n[action.user_attributes]\nuser_id = "$.id"\n')
    result = invoke([mapping], cache_path)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "mapping.toml (1 action)" in text and "action 1 (identify-user)" in text
    assert "people has no attribute 'twiter'" in text and "did you mean 'twitter'" in text
    assert text.index("twiter") < text.index("replaces")  # the error row comes before the warning row
    assert "1 error, 1 warning" in text


def test_json_is_a_list_of_findings_with_the_five_keys(cache_path: Path, tmp_path: Path) -> None:
    cached(cache_path, age=timedelta(days=3))
    mapping = write(tmp_path, '[[action]]\nkind = "assert-record"\non = "track"\nobject = "person"\n'
                              'matching_attribute = "email_addresses"\nattributes = { email_addresses = "$.e" }\n')
    result = invoke([mapping, "--json"], cache_path)
    assert result.exit_code == 1
    findings = json.loads(result.output)
    assert [(f["level"], f["action"], f["field"]) for f in findings] == [
        ("warning", "mapping", "schema"), ("error", "action 1 (assert-record)", "object")]
    assert all(set(f) == {"level", "action", "field", "message", "hint"} for f in findings)
    assert findings[1]["hint"] == "did you mean 'people'?"


def test_only_warnings_exit_0(cache_path: Path) -> None:
    cached(cache_path, age=timedelta(days=2))
    result = invoke(["--json"], cache_path)
    assert result.exit_code == 0
    assert [f["level"] for f in json.loads(result.output)] == ["warning"]


def test_a_broken_mapping_is_refused_with_file_line_and_key(cache_path: Path, tmp_path: Path) -> None:
    cached(cache_path)
    mapping = write(tmp_path, '[[action]]\nkind = "identify-user"\nemial = "$.email"\n')
    result = invoke([mapping], cache_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{mapping}:3: emial: unknown key 'emial'" in result.output


def test_events_are_counted_per_field(cache_path: Path) -> None:
    result = invoke([str(EXAMPLES / "mapping.toml"), "--pull", "--events", str(EXAMPLES / "events-sample.jsonl")],
                    cache_path, sandbox())
    assert result.exit_code == 0, result.output
    text = result.output
    assert "events-sample.jsonl: 7 lines, 1 not events" in text
    row = next(line for line in text.splitlines() if "person_attributes.twitter" in line)
    assert [cell.strip() for cell in row.split("│")[4:8]] == ["3", "3", "3", ""]  # taken, present, valid, failing
    row = next(line for line in text.splitlines() if "$.traits.email or $.email" in line)
    assert [cell.strip() for cell in row.split("│")[4:8]] == ["3", "3", "2", "6"]
    assert "1 track events taken by no action" in text
    assert "0 errors, 2 warnings" in text


def test_events_json_includes_the_event_findings(cache_path: Path, tmp_path: Path) -> None:
    cached(cache_path)
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "identify", "userId": "u", "traits": {}}\n', encoding="utf-8")
    result = invoke(["--events", str(events), "--json"], cache_path)
    assert result.exit_code == 1
    finding, = json.loads(result.output)
    assert (finding["level"], finding["field"]) == ("error", "email")
