"""Every command of the README, misused the common ways: the documented exit status (1 for an
error, 2 for click's usage errors), one short message with advice in it, never a traceback.

The commands run through click's runner against the world of `history_harness` (a pulled
schema, run 1 with every outcome), plus a dry run (run 2) and a pruned copy of the database.
Two cases need a real process: `sandbox` on a port in use, and a database this user may not
write (as root, `setpriv` drops the capability that lets root write anything).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from history_harness import BASE_URL, World, make_world

import toolkit.sandbox.command
from toolkit.cli import cli
from toolkit.sandbox import SandboxTransport

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

#: Words that tell the user what to do (or where to look); every error message carries one.
ADVICE = re.compile(r"\b(run|pass|give|check|set|install|choose|create|write|add|fix|use|send|wait|try|report|"
                    r"activate|leave out|name|did you mean|lists|finds)\b|`attio-sync ", re.IGNORECASE)


@dataclass
class Misuse:
    """One misuse: the arguments (with {placeholders}), the exit status and a fragment of the message."""

    id: str
    args: list[str]
    status: int
    says: str
    key: bool = True  # whether ATTIO_API_KEY is set
    report: bool = False  # the command prints a report (findings, problems), not an `Error:` line
    lines: int = 4  # at most this many non-empty lines of output
    advice: bool = True  # whether the message is checked for words of advice (see ADVICE)
    marks: list[Any] = field(default_factory=list)
    without: tuple[str, ...] = ()  # modules that cannot be imported (an extra not installed)


MISUSES = [
    # schema
    Misuse("schema-pull-without-a-key", ["schema", "pull", "--db", "{empty}"], 1, "ATTIO_API_KEY", key=False),
    Misuse("schema-show-before-any-pull", ["schema", "show", "--db", "{empty}"], 1, "schema pull"),
    Misuse("schema-show-unknown-object", ["schema", "show", "peple", "--db", "{db}"], 1, "did you mean people?"),
    Misuse("schema-diff-after-one-pull", ["schema", "diff", "--db", "{db}"], 1, "needs two pulls"),
    # check
    Misuse("check-before-any-pull", ["check", "{mapping}", "--db", "{empty}"], 1, "schema pull", report=True,
           lines=12),
    Misuse("check-missing-mapping", ["check", "{tmp}/nope.toml", "--db", "{db}"], 1, "cannot read the mapping"),
    Misuse("check-mapping-is-a-folder", ["check", "{tmp}", "--db", "{db}"], 2, "is a directory"),
    Misuse("check-mapping-kind-typo", ["check", "{kind_typo}", "--db", "{db}"], 1, "did you mean 'identify-user'?"),
    Misuse("check-mapping-attribute-typo", ["check", "{attribute_typo}", "--db", "{db}"], 1, "did you mean 'plan'?",
           report=True, lines=12),
    Misuse("check-missing-events", ["check", "{mapping}", "--events", "{tmp}/nope.jsonl", "--db", "{db}"], 2,
           "does not exist"),
    # sync
    Misuse("sync-before-any-pull", ["sync", "{events}", "--db", "{empty}"], 1, "schema pull"),
    Misuse("sync-without-a-key", ["sync", "{events}", "--mapping", "{mapping}", "--db", "{db}"], 1, "ATTIO_API_KEY",
           key=False),
    # toolkit/cli/sync.py says what is wrong, not yet what to do ("check the path").
    Misuse("sync-missing-events", ["sync", "{tmp}/nope.jsonl", "--mapping", "{mapping}", "--db", "{db}"], 1,
           "cannot read events", advice=False),
    Misuse("sync-bad-fail-on", ["sync", "{events}", "--fail-on", "bogus", "--db", "{db}"], 2, "--fail-on"),
    Misuse("sync-mapping-attribute-typo", ["sync", "{events}", "--mapping", "{attribute_typo}", "--db", "{db}"], 1,
           "did you mean 'plan'?", lines=6),
    Misuse("sync-missing-mapping", ["sync", "{events}", "--mapping", "{tmp}/nope.toml", "--db", "{db}"], 1,
           "cannot read the mapping"),
    # value
    Misuse("value-unknown-attribute", ["value", "people.plann", "Pro", "--db", "{db}"], 1, "did you mean",
           report=True),
    Misuse("value-before-any-pull", ["value", "people.name", "Ada", "--db", "{empty}"], 1, "schema pull"),
    # history
    Misuse("history-show-unknown-run", ["history", "show", "99", "--db", "{db}"], 1, "no run 99"),
    Misuse("history-events-bad-since", ["history", "events", "--since", "yesterday", "--db", "{db}"], 2,
           "cannot read the time"),
    Misuse("history-trace-unknown-message", ["history", "trace", "nope", "--db", "{db}"], 1,
           "no event with messageId or key 'nope'"),
    Misuse("history-trace-prefix-too-short", ["history", "trace", "sha256:ab", "--db", "{db}"], 1,
           "at least 15 characters"),
    Misuse("history-export-into-a-missing-folder",
           ["history", "export", "--format", "csv", "--output", "{tmp}/no/such.csv", "--db", "{db}"], 1,
           "does not exist"),
    Misuse("history-prune-bad-age", ["history", "prune", "--older-than", "a month", "--db", "{db}"], 2,
           "cannot read the age"),
    Misuse("history-runs-db-under-a-file", ["history", "runs", "--db", "{file}/audit.db"], 1,
           "is a file, not a folder"),
    Misuse("history-runs-db-not-a-database", ["history", "runs", "--db", "{file}"], 1, "is not a SQLite database"),
    Misuse("history-runs-postgres-without-its-driver", ["history", "runs", "--db", "postgresql://ada:s3cret@db/sync"],
           1, "pip install 'attio-sync[postgres]'", without=("psycopg",)),
    # retry
    Misuse("retry-unknown-run", ["retry", "99", "--db", "{db}"], 1, "no run 99"),
    Misuse("retry-a-dry-run", ["retry", "{dry_run}", "--db", "{db}"], 1, "was a dry run", key=False),
    Misuse("retry-a-pruned-run", ["retry", "1", "--db", "{pruned}"], 1, "run 1 was pruned", key=False),
    Misuse("retry-a-status-it-cannot-resend", ["retry", "1", "--status", "synced", "--db", "{db}"], 2, "status"),
    # demo
    Misuse("demo-db-under-a-file", ["demo", "--db", "{file}/demo.db"], 1, "is a file, not a folder"),
    Misuse("demo-db-with-runs", ["demo", "--db", "{db}"], 1, "already holds runs"),
    # sandbox (a port in use: `test_sandbox_on_a_port_in_use_says_so_before_any_key`)
    Misuse("sandbox-seed-and-from-cache", ["sandbox", "--seed", "{seed}", "--from-cache"], 2, "pass one of them"),
    Misuse("sandbox-from-cache-before-any-pull", ["sandbox", "--from-cache", "--db", "{empty}"], 1, "schema pull"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("misuse"))


@pytest.fixture(scope="module")
def places(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the placeholders of `MISUSES` stand for."""
    tmp = tmp_path_factory.mktemp("places")
    dry = world.invoke("sync", str(world.events), "--mapping", str(world.mapping), "--dry-run", "--json")
    assert dry.exit_code == 1, dry.output  # the world's events include invalid ones
    pruned = tmp / "pruned.db"
    shutil.copy(world.db, pruned)
    prune = CliRunner().invoke(cli, ["history", "prune", "--older-than", "0s", "--db", str(pruned)])
    assert prune.exit_code == 0, prune.output
    (tmp / "a-file").write_text("not a folder, nor a database\n")
    (tmp / "kind-typo.toml").write_text('[[action]]\nkind = "identfy-user"\n')
    (tmp / "attribute-typo.toml").write_text(world.mapping.read_text().replace("plan =", "plann ="))
    return {"db": str(world.db), "empty": str(tmp / "empty.db"), "tmp": str(tmp), "file": str(tmp / "a-file"),
            "pruned": str(pruned), "dry_run": str(json.loads(dry.stdout)["run_id"]), "events": str(world.events),
            "mapping": str(world.mapping), "kind_typo": str(tmp / "kind-typo.toml"),
            "attribute_typo": str(tmp / "attribute-typo.toml"), "seed": str(EXAMPLES / "sandbox-seed.toml")}


@pytest.fixture(autouse=True)
def never_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox misuse that got as far as serving would never return: fail instead."""
    def serve(*_args: Any) -> None:
        raise AssertionError("the sandbox was about to serve")

    monkeypatch.setattr(toolkit.sandbox.command, "_serve", serve)


def assert_one_clear_message(result: Result, status: int, says: str, *, report: bool = False,
                             lines: int = 4, advice: bool = True) -> None:
    """The exit status, no traceback, a short output, and a message that says what to do."""
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == status, output
    shown = [line for line in output.splitlines() if line.strip()]
    assert 0 < len(shown) <= lines, output
    assert says in " ".join(output.split()), output
    if report:  # a report: its findings carry the advice
        assert ADVICE.search(output), output
        return
    error = next(line for line in shown if line.startswith("Error: "))
    assert error.removeprefix("Error: ").strip() not in ("", "None"), output
    if status == 2:  # click's usage error: the message, and where to read more
        assert any(line.startswith("Try '") and "--help" in line for line in shown), output
    elif advice:
        assert ADVICE.search(output), f"no advice in: {output}"


@pytest.mark.parametrize("misuse", [pytest.param(m, id=m.id, marks=m.marks) for m in MISUSES])
def test_a_misuse_is_one_clear_message(misuse: Misuse, world: World, places: dict[str, str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for module in misuse.without:
        monkeypatch.setitem(sys.modules, module, None)  # `import psycopg` fails, as without the extra
    args = [arg.format(**places) for arg in misuse.args]
    env = {"ATTIO_BASE_URL": BASE_URL, **({"ATTIO_API_KEY": world.app.config.token} if misuse.key else {})}
    result = CliRunner().invoke(cli, args, env=env, obj={"transport": SandboxTransport(world.app)})
    assert_one_clear_message(result, misuse.status, misuse.says, report=misuse.report, lines=misuse.lines,
                             advice=misuse.advice)
    assert "s3cret" not in result.output  # a password in a URL is never shown


#: The commands the README documents.
COMMANDS = ("schema pull", "schema show", "schema diff", "check", "sync", "value", "history runs", "history show",
            "history events", "history trace", "history export", "history prune", "retry", "demo", "sandbox")


def test_every_readme_command_is_misused_here() -> None:
    used = {" ".join(m.args[:2]) for m in MISUSES} | {m.args[0] for m in MISUSES}
    assert set(COMMANDS) <= used, set(COMMANDS) - used


def test_every_db_option_says_how_a_path_and_a_url_differ() -> None:
    for command in (["history", "runs"], ["history", "prune"], ["schema", "show"], ["schema", "pull"], ["sync"],
                    ["check"], ["value"], ["retry"], ["sandbox"]):
        result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=400)
        text = " ".join(result.output.split())
        assert result.exit_code == 0, result.output
        assert "relative to the current folder" in text and "sqlite:////absolute/path.db" in text, command
        assert "attio-sync[postgres]" in text, command


# -- a real process ----------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_sandbox_on_a_port_in_use_says_so_before_any_key(busy_port: int) -> None:
    done = subprocess.run([sys.executable, "-m", "toolkit", "sandbox", "--port", str(busy_port)], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 1, done
    assert done.stderr.strip() == f"Error: port {busy_port} is in use: pass --port N"
    assert done.stdout == ""  # no banner, no key, for a server that never started


READER = """
import json, sys
from click.testing import CliRunner
from toolkit.cli import cli

db, mapping = sys.argv[1:]
found = {}
for args in (["history", "runs", "--json"], ["history", "show", "1", "--json"],
             ["history", "events", "--status", "failed", "--json"], ["history", "trace", "m1", "--json"],
             ["history", "export", "--format", "jsonl"], ["schema", "show", "people"], ["schema", "diff"],
             ["value", "people.plan", "Pro"], ["check", mapping], ["history", "prune", "--older-than", "0s"]):
    result = CliRunner().invoke(cli, [*args, "--db", db])
    found[" ".join(args[:2])] = [result.exit_code, result.output, repr(result.exception)]
print(json.dumps(found))
"""


def run_as_reader(db: Path, mapping: Path) -> dict[str, list[Any]]:
    """READER in a process that cannot write what its permissions forbid (root included)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root writes any file, and setpriv (to drop that power) is absent")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    done = subprocess.run([*prefix, sys.executable, "-c", READER, str(db), str(mapping)], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={k: v for k, v in os.environ.items()
                                                               if not k.startswith("ATTIO_")})
    if done.returncode != 0 and done.stderr.startswith("setpriv"):
        pytest.skip(f"setpriv cannot drop the capability here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    result: dict[str, list[Any]] = json.loads(done.stdout)
    return result


@pytest.fixture
def read_only_copy(world: World, tmp_path: Path) -> Iterator[Path]:
    """A copy of the world's database, the file 0444 in a folder 0555."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    db = folder / "audit.db"
    shutil.copy(world.db, db)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield db
    finally:
        folder.chmod(0o755)


def test_a_read_only_database_serves_every_command_that_only_reads(read_only_copy: Path, world: World) -> None:
    before = read_only_copy.read_bytes()
    found = run_as_reader(read_only_copy, world.mapping)
    prune, diff = found.pop("history prune"), found.pop("schema diff")
    for command, (status, output, exception) in found.items():
        assert status == 0, (command, output, exception)
    assert diff[0] == 1 and "needs two pulls" in diff[1]  # read, and answered as usual
    assert json.loads(found["history runs"][1])["runs"][-1]["id"] == 1
    assert read_only_copy.read_bytes() == before
    assert sorted(p.name for p in read_only_copy.parent.iterdir()) == ["audit.db"]
    # The one that writes says so, in one line.
    assert prune[0] == 1 and "read-only" in prune[1] and "--db" in prune[1] and "Traceback" not in prune[1], prune


def test_a_read_only_database_that_needs_an_upgrade_says_so(read_only_copy: Path, world: World) -> None:
    folder = read_only_copy.parent
    folder.chmod(0o755)
    read_only_copy.chmod(0o644)
    with sqlite3.connect(read_only_copy) as db:  # as written by an older attio-sync
        db.execute("UPDATE alembic_version SET version_num = '0002'")
    db.close()
    read_only_copy.chmod(0o444)
    folder.chmod(0o555)
    status, output, _ = run_as_reader(read_only_copy, world.mapping)["history runs"]
    assert status == 1, output
    assert "must be upgraded to this version of attio-sync, but it cannot be written" in output
    assert len(output.strip().splitlines()) == 1


# -- the last resort -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raised", "says"), [
    (ValueError("boom\nsecond line"), "unexpected error (ValueError: boom). This is a bug in attio-sync: please"),
    (PermissionError(13, "Permission denied", "/srv/x.toml"), "cannot use /srv/x.toml: Permission denied; check the"),
])
def test_an_unexpected_error_is_one_line_too(raised: Exception, says: str, places: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr("toolkit.cli.value.check_value", fail)
    result = CliRunner().invoke(cli, ["value", "people.name", "Ada", "--db", places["db"]])
    assert_one_clear_message(result, 1, says, lines=1)
    monkeypatch.setenv("ATTIO_SYNC_DEBUG", "1")  # the traceback, for a developer
    assert CliRunner().invoke(cli, ["value", "people.name", "Ada", "--db", places["db"]]).exception is raised


@pytest.mark.parametrize("args", [["history", "runs"], ["history", "runs", "--json"], ["--help"]])
def test_a_closed_output_pipe_is_not_an_error(tmp_path: Path, args: list[str]) -> None:
    """`attio-sync ... | head -1`: the reader goes away before the output is written."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "toolkit", *args]
    if args[0] != "--help":
        command += ["--db", str(tmp_path / "pipe.db")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # nobody reads: every write to standard output fails with EPIPE
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
