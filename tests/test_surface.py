"""The public surface, used the way the package docstring shows, plus meta-tests that keep it honest.

The library names the tests use are imported from `toolkit` itself (only the in-process sandbox
comes from elsewhere): a renamed, moved or broken export fails a test, and so does a change in
what the names do.
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import re
from pathlib import Path

import pytest
from sandbox_fixtures import Harness

import toolkit
from toolkit import (
    AttioClient,
    AttioSyncError,
    Cache,
    ConfigError,
    FatalApiError,
    PullResult,
    SchemaError,
    Settings,
    check_mapping,
    default_mapping,
    errors,
    load_mapping,
    load_schema,
    open_cache,
    prepare_slug,
    pull_schema,
)
from toolkit.sandbox import SandboxTransport

REPO = Path(toolkit.__file__).resolve().parents[1]


def _pull(settings: Settings, cache: Cache, harness: Harness) -> PullResult:
    async def main() -> PullResult:
        async with AttioClient.from_settings(settings, transport=SandboxTransport(harness.app)) as client:
            return await pull_schema(client, cache)

    return asyncio.run(main())


def test_the_package_docstring_example_pulls_stores_and_checks(sandbox: Harness, tmp_path: Path) -> None:
    db = tmp_path / "attio-sync.db"
    settings = Settings.load(environ={"ATTIO_API_KEY": sandbox.app.config.token, "ATTIO_SYNC_DB": str(db)})
    cache = open_cache(settings.database)
    result = _pull(settings, cache, sandbox)
    cache.close()
    assert result.inactive_objects() == {}

    schema = load_schema(settings.database)  # read back from the file, on a new connection
    assert schema == result.schema
    assert [o.api_slug for o in schema.objects] == ["people", "companies", "deals", "users", "workspaces"]

    phone = prepare_slug("+15558675309", "people", "phone_numbers", schema)
    assert (phone.ok, phone.value) == (True, [{"original_phone_number": "+15558675309", "country_code": "US"}])
    local = prepare_slug("7946 0958", "people", "phone_numbers", schema)
    assert not local.ok and local.problems[0].reason.startswith("no country code")

    assert check_mapping(default_mapping(), schema) == []
    # The example mapping sets people.plan and people.signed_up_on, which a bare workspace lacks.
    findings = check_mapping(load_mapping(REPO / "examples" / "mapping.toml"), schema)
    assert [(f.level, f.field, f.message) for f in findings] == [
        ("error", "person_attributes.plan", "people has no attribute 'plan'"),
        ("error", "person_attributes.signed_up_on", "people has no attribute 'signed_up_on'"),
    ]


def test_every_failure_is_caught_at_the_root_and_says_what_went_wrong(sandbox: Harness, tmp_path: Path) -> None:
    with pytest.raises(AttioSyncError) as bad_url:
        Settings.load(environ={"ATTIO_BASE_URL": "http://api.attio.com"})
    assert isinstance(bad_url.value, ConfigError) and "plain http to a non-loopback host" in str(bad_url.value)

    cache = open_cache(str(tmp_path / "attio-sync.db"))
    with pytest.raises(ConfigError, match="ATTIO_API_KEY"):
        _pull(Settings.load(environ={}), cache, sandbox)  # no key: refused before any request
    assert sandbox.app.log == []

    with pytest.raises(FatalApiError) as refused:
        _pull(Settings.load(api_key="not-the-sandbox-key", environ={}), cache, sandbox)
    assert refused.value.status == 401 and isinstance(refused.value, AttioSyncError)
    with pytest.raises(SchemaError):
        cache.load_schema()  # a failed pull stores nothing
    cache.close()


def test_all_is_sorted_and_complete() -> None:
    assert toolkit.__all__ == sorted(toolkit.__all__)
    namespace: dict[str, object] = {}
    exec("from toolkit import *", namespace)  # each name must resolve, however toolkit imports it
    del namespace["__builtins__"]
    assert sorted(namespace) == toolkit.__all__
    # Every class and function of ours that `toolkit` offers is exported (not just reachable).
    offered = {name for name in dir(toolkit) if not name.startswith("_")
               and (inspect.isclass(obj := getattr(toolkit, name)) or inspect.isfunction(obj))
               and obj.__module__.startswith("toolkit.")}
    assert offered == set(toolkit.__all__)


def _drawn_tree() -> dict[str, str | None]:
    """Each class in errors.py's docstring tree, with the class drawn as its parent."""
    block = errors.__doc__.split("```")[1] if errors.__doc__ else ""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in block.strip("\n").splitlines():
        found = re.search(r"\w+Error", line)
        assert found, line
        depth = found.start() // 4  # "├── " and "│   " are four characters per level
        del stack[depth:]
        parents[found.group()] = stack[-1] if stack else None
        stack.append(found.group())
    return parents


def test_the_error_tree_in_the_docstring_is_the_class_tree() -> None:
    classes = {c.__name__: c for _, c in inspect.getmembers(errors, inspect.isclass)
               if c.__module__ == errors.__name__ and issubclass(c, BaseException)}
    drawn = _drawn_tree()
    assert set(drawn) == set(classes), "every error class is drawn in errors.py's docstring, and only those"
    assert set(errors.__all__) >= set(classes)
    for name, cls in classes.items():
        assert cls.__name__.endswith("Error"), cls
        parent = drawn[name]
        if parent is None:
            assert cls is errors.AttioSyncError and cls.__bases__ == (Exception,)
        else:
            assert cls.__bases__ == (classes[parent],), f"{name} is drawn under {parent}"


def test_public_functions_and_classes_have_docstrings_of_their_own() -> None:
    for name in toolkit.__all__:
        obj = getattr(toolkit, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            # Not inspect.getdoc: it lends a class its base's docstring, and a dataclass has a
            # generated one ("Settings(api_key=..., ...)").
            doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
            assert doc and doc.strip() and not doc.startswith(f"{obj.__name__}("), f"toolkit.{name} has no docstring"


def test_every_subpackage_and_data_file_ships_in_the_wheel() -> None:
    """pyproject lists packages and their data by hand (migrations/ is mapped into
    toolkit.migrations), so a new subpackage or data file must be added there or a
    non-editable install loses it."""
    import tomllib

    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "toolkit").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"

    dirs = {REPO / setup.get("package-dir", {}).get(name, name.replace(".", "/")): name for name in listed}
    for top in (REPO / "toolkit", REPO / "migrations"):
        for path in top.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            home = max((d for d in dirs if path.is_relative_to(d)), key=lambda d: len(d.parts))
            package, relative = dirs[home], path.relative_to(home).as_posix()
            patterns = setup.get("package-data", {}).get(package, [])
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), (
                f"add {relative!r} to [tool.setuptools.package-data] {package!r} in pyproject.toml")
