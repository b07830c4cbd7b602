"""Meta-tests that keep the public surface honest."""

from __future__ import annotations

import inspect

import toolkit
from toolkit import errors


def test_all_is_sorted_and_complete() -> None:
    assert toolkit.__all__ == sorted(toolkit.__all__)
    for name in toolkit.__all__:
        assert hasattr(toolkit, name), name


def test_the_library_names_the_issue_promises_exist() -> None:
    from toolkit import AttioClient, Settings, open_cache, pull_schema  # noqa: F401


def test_every_error_class_descends_from_the_root_and_is_exported() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if c.__module__ == errors.__name__ and issubclass(c, BaseException)]
    assert classes
    for cls in classes:
        assert issubclass(cls, errors.AttioSyncError), cls
        assert cls.__name__.endswith("Error"), cls
        assert cls.__name__ in errors.__all__, cls
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} is missing from the tree in errors.py's docstring"


def test_public_functions_have_docstrings() -> None:
    for name in toolkit.__all__:
        obj = getattr(toolkit, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"toolkit.{name} has no docstring"


def test_every_subpackage_ships_in_the_wheel() -> None:
    """pyproject lists packages by hand (migrations/ is mapped into toolkit.migrations), so a
    new subpackage must be added there or a non-editable install loses it."""
    import tomllib
    from pathlib import Path

    root = Path(toolkit.__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "toolkit").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
