"""The command line's layout (issue 12): one module per command, none importing another, all
named in one table and loaded only when used, so that `attio-sync --version` starts at once."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import toolkit
from toolkit.cli import COMMANDS, cli

CLI = Path(toolkit.__file__).resolve().parent / "cli"
#: The modules of the commands in the table (the others under toolkit/cli are shared).
COMMAND_MODULES = {spec.target.partition(":")[0] for spec in COMMANDS.values()
                   if spec.target.startswith("toolkit.cli.")}
#: What a start that runs no command must not wait for.
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "phonenumbers")


def _modules() -> dict[str, ast.Module]:
    return {f"toolkit.cli.{path.stem}" if path.stem != "__init__" else "toolkit.cli": ast.parse(path.read_text())
            for path in sorted(CLI.glob("*.py"))}


def _imported(module: str, tree: ast.Module) -> set[str]:
    """Every module `tree` imports, anywhere in it, by absolute name (`from . import x` as `pkg.x`)."""
    package = module if module == "toolkit.cli" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _defines_a_command(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and isinstance(call.value, ast.Name) and call.value.id == "click" \
                        and call.attr in ("command", "group"):
                    return True
    return False


def test_the_table_names_a_module_per_command() -> None:
    assert COMMAND_MODULES, "no command modules found in toolkit.cli.COMMANDS"
    for module in COMMAND_MODULES:
        assert (CLI / f"{module.rpartition('.')[2]}.py").is_file(), module


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_of_the_command_line_imports_a_command_module(module: str) -> None:
    """A command's module imports shared modules (common, render, running) and the library, never
    another command's: what two commands share moves to a shared module. The root imports none."""
    imported = _imported(module, _modules()[module]) & (COMMAND_MODULES - {module})
    assert not imported, f"{module} imports {sorted(imported)}: move what they share to a shared module"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_every_command_lives_in_a_module_the_table_names(module: str) -> None:
    """A shared module holds no command (the root group, in toolkit/cli/__init__.py, aside)."""
    if module not in COMMAND_MODULES | {"toolkit.cli"}:
        assert not _defines_a_command(_modules()[module]), \
            f"{module} defines a command: give it a module of its own, named in toolkit.cli.COMMANDS"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_in_the_table_loads_under_its_name(name: str) -> None:
    command = COMMANDS[name].load()
    assert command.name == name
    assert cli.get_command(click.Context(cli), name) is command
    assert name in cli.list_commands(click.Context(cli))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_tables_summary_is_the_first_paragraph_of_the_commands_help(name: str) -> None:
    """`attio-sync --help` lists the table's summaries, so that it needs no command's module."""
    command = COMMANDS[name].load()
    first = " ".join((command.help or "").partition("\n\n")[0].split())
    assert COMMANDS[name].summary == first, f"update the summary of {name!r} in toolkit/cli/__init__.py"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_help_lists_the_commands_as_click_would_from_the_commands_themselves(width: int) -> None:
    ctx = click.Context(cli, info_name="attio-sync", terminal_width=width)
    lazy, loaded = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    cli.format_commands(ctx, lazy)
    click.Group.format_commands(cli, ctx, loaded)  # click's own: every command imported
    assert lazy.getvalue() == loaded.getvalue()
    assert "sync" in lazy.getvalue()


def test_an_unknown_command_is_a_usage_error() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["synk"])
    assert result.exit_code == 2 and "No such command 'synk'" in result.output


# -- start-up ---------------------------------------------------------------------------------

_STARTS = """
import json, sys
from toolkit.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="attio-sync", standalone_mode=False)
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_start_without_the_database_or_http_libraries(args: list[str]) -> None:
    """Start-up time a user notices: `attio-sync --version` once waited most of a second for
    SQLAlchemy, alembic and httpx. No command's module is imported either."""
    done = subprocess.run([sys.executable, "-c", _STARTS, *args], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.startswith("attio-sync, version" if args == ["--version"] else "Usage: attio-sync")
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not {m.partition(".")[0] for m in loaded} & set(HEAVY)
    assert not loaded & COMMAND_MODULES


def test_the_package_exports_load_on_first_use_and_match_the_names_type_checkers_see() -> None:
    """`toolkit/__init__.py` imports its public names lazily (so that the command line starts
    fast); its table and its TYPE_CHECKING imports must name the same things."""
    tree = ast.parse(Path(toolkit.__file__).read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imported in node.body:
                assert isinstance(imported, ast.ImportFrom) and imported.level == 1 and imported.module
                typed.update({alias.name: imported.module for alias in imported.names})
    exports = toolkit._EXPORTS
    assert typed == exports
    assert sorted(exports) == toolkit.__all__
    for name, module in exports.items():
        assert getattr(toolkit, name) is getattr(importlib.import_module(f"toolkit.{module}"), name), name
