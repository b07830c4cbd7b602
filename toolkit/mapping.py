"""Mapping files: which events become which Attio records.

A mapping (TOML) lists actions. Each action takes some event types (`on`) and says, for each
Attio attribute it writes, where the value comes from: an event path (`"$.traits.email"`), a
list of paths (the first one present wins), or a literal (`{ literal = "Pro" }`).

```toml
phone_region = "US"            # options at the top apply to every action
nulls = "skip"                 # "skip" (default) or "unset"
multiselect = "append"         # "append" (default) or "replace"

[[action]]
kind = "identify-user"         # also: "group-workspace", "assert-record"
[action.person_attributes]
twitter = "$.traits.twitter_handle"
```

With no file, the two default actions apply with their default paths (`default_mapping`).
A broken file is refused with a `MappingError` that names the file, the line and the key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from .errors import MappingError, MappingProblem

__all__ = [
    "Action",
    "AssertRecord",
    "EventPath",
    "GroupWorkspace",
    "IdentifyUser",
    "Mapping",
    "Options",
    "Source",
    "default_mapping",
    "load_mapping",
    "parse_mapping",
]

NullPolicy = Literal["skip", "unset"]
MultiselectPolicy = Literal["append", "replace"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Final = _Missing()

# -- event paths --------------------------------------------------------------------------

_TOKEN = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'([^']*)'\s*\]""")


@dataclass(frozen=True)
class EventPath:
    """A JSONPath-like pointer into an event: `$.traits.email`, `$.items[0].id`, `$["a b"]`."""

    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> EventPath:
        """Parse a path; `ValueError` says what is wrong with it."""
        if not isinstance(text, str) or not text.startswith("$"):
            raise ValueError(f"{text!r} is not an event path: paths start with $, like $.traits.email")
        steps: list[str | int] = []
        position = 1
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ValueError(f"cannot read event path {text!r} at character {position + 1}: "
                                 "use $.key, $.list[0] or $[\"key with spaces\"]")
            name, index, double, single = match.groups()
            if index is not None:
                steps.append(int(index))
            else:
                steps.append(name if name is not None else (double if double is not None else single))
            position = match.end()
        return cls(text=text, steps=tuple(steps))

    def get(self, event: Any) -> Any:
        """The value at this path, or `_MISSING` when any step is absent."""
        current = event
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(current, list) or step >= len(current):
                    return _MISSING
                current = current[step]
            else:
                if not isinstance(current, dict) or step not in current:
                    return _MISSING
                current = current[step]
        return current

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Source:
    """Where one value comes from: paths tried in order, or a literal."""

    paths: tuple[EventPath, ...] = ()
    literal: Any = _MISSING

    @property
    def is_literal(self) -> bool:
        return self.literal is not _MISSING

    def resolve(self, event: Any) -> tuple[bool, Any]:
        """`(found, value)`: the literal, or the first path present in the event.

        A path whose value is null counts as present (null may mean "unset").
        """
        if self.is_literal:
            return True, self.literal
        for path in self.paths:
            value = path.get(event)
            if value is not _MISSING:
                return True, value
        return False, None

    def describe(self) -> str:
        if self.is_literal:
            return f"literal {self.literal!r}"
        return " or ".join(p.text for p in self.paths)

    @classmethod
    def of(cls, *paths: str) -> Source:
        return cls(paths=tuple(EventPath.parse(p) for p in paths))


# -- options and actions --------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What every value of an action does; the top of the file sets them for all actions."""

    nulls: NullPolicy = "skip"
    multiselect: MultiselectPolicy = "append"
    phone_region: str | None = None


@dataclass(frozen=True)
class Action:
    """One action of a mapping. `index` counts from 1 in file order; `line` is its `[[action]]`."""

    kind: ClassVar[str]
    default_on: ClassVar[tuple[str, ...]] = ()
    on: tuple[str, ...]
    options: Options = Options()
    index: int = 1
    line: int | None = None

    @property
    def name(self) -> str:
        return f"action {self.index} ({self.kind})"

    def attribute_maps(self) -> dict[str, dict[str, Source]]:
        """The object slug each attribute map writes to, with its map."""
        raise NotImplementedError


@dataclass(frozen=True)
class IdentifyUser(Action):
    """`identify` → a Person matched on email and a User matched on user id, linked."""

    kind: ClassVar[str] = "identify-user"
    default_on: ClassVar[tuple[str, ...]] = ("identify",)
    email: Source = field(default_factory=lambda: Source.of("$.traits.email", "$.email"))
    user_id: Source = field(default_factory=lambda: Source.of("$.userId"))
    person_attributes: dict[str, Source] = field(default_factory=dict)
    user_attributes: dict[str, Source] = field(default_factory=dict)

    def attribute_maps(self) -> dict[str, dict[str, Source]]:
        return {"people": self.person_attributes, "users": self.user_attributes}


@dataclass(frozen=True)
class GroupWorkspace(Action):
    """`group` → a Company matched on domain and a Workspace matched on workspace id, linked,
    with the event's user (when there is one) added to the workspace's users."""

    kind: ClassVar[str] = "group-workspace"
    default_on: ClassVar[tuple[str, ...]] = ("group",)
    domain: Source = field(default_factory=lambda: Source.of("$.traits.website", "$.website"))
    workspace_id: Source = field(default_factory=lambda: Source.of("$.groupId", "$.context.group_id"))
    user_id: Source = field(default_factory=lambda: Source.of("$.userId"))
    company_attributes: dict[str, Source] = field(default_factory=dict)
    workspace_attributes: dict[str, Source] = field(default_factory=dict)

    def attribute_maps(self) -> dict[str, dict[str, Source]]:
        return {"companies": self.company_attributes, "workspaces": self.workspace_attributes}


@dataclass(frozen=True)
class AssertRecord(Action):
    """Any event type it names → one record of any object, matched on one attribute."""

    kind: ClassVar[str] = "assert-record"
    object: str = ""
    matching_attribute: str = ""
    attributes: dict[str, Source] = field(default_factory=dict)

    def attribute_maps(self) -> dict[str, dict[str, Source]]:
        return {self.object: self.attributes}


ACTION_TYPES: Final[dict[str, type[Action]]] = {
    cls.kind: cls for cls in (IdentifyUser, GroupWorkspace, AssertRecord)
}


@dataclass(frozen=True)
class Mapping:
    """A whole mapping: its actions, in file order, and where it came from."""

    actions: tuple[Action, ...]
    options: Options = Options()
    path: str | None = None

    def actions_for(self, event_type: str) -> tuple[Action, ...]:
        """The actions that take this event type, in file order."""
        return tuple(a for a in self.actions if event_type in a.on)

    @property
    def label(self) -> str:
        return self.path or "(default mapping)"


def default_mapping() -> Mapping:
    """The two default actions with their default paths: what runs without a mapping file."""
    return Mapping(actions=(IdentifyUser(on=("identify",), index=1), GroupWorkspace(on=("group",), index=2)))


# -- parsing ---------------------------------------------------------------------------------

_TOP_KEYS: Final = {"action", "nulls", "multiselect", "phone_region"}
_OPTION_KEYS: Final = {"nulls", "multiselect", "phone_region"}
_ACTION_KEYS: Final[dict[str, set[str]]] = {
    "identify-user": {"email", "user_id", "person_attributes", "user_attributes"},
    "group-workspace": {"domain", "workspace_id", "user_id", "company_attributes", "workspace_attributes"},
    "assert-record": {"object", "matching_attribute", "attributes"},
}
_SOURCE_FIELDS: Final = {"email", "user_id", "domain", "workspace_id"}
_MAP_FIELDS: Final = {"person_attributes", "user_attributes", "company_attributes", "workspace_attributes",
                      "attributes"}


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file.

    Raises:
        MappingError: the file cannot be read, is not TOML, or says something impossible;
            every problem is listed with its line and key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError([MappingProblem(str(path), None, None, f"cannot read the mapping: {exc}")]) from exc
    return parse_mapping(text, str(path))


def parse_mapping(text: str, filename: str = "<mapping>") -> Mapping:
    """Parse mapping TOML; see `load_mapping`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of_decode_error(str(exc))
        raise MappingError([MappingProblem(filename, line, None, f"not valid TOML: {exc}")]) from exc
    return _Parser(text, filename).mapping(data)


def _line_of_decode_error(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


class _Parser:
    """Turns the TOML data into a `Mapping`, collecting every problem with its line."""

    def __init__(self, text: str, filename: str) -> None:
        self.lines = text.splitlines()
        self.filename = filename
        self.problems: list[MappingProblem] = []
        self.action_lines = [i + 1 for i, line in enumerate(self.lines)
                             if re.match(r"\s*\[\[\s*action\s*\]\]", line)]

    def problem(self, message: str, key: str | None = None, *, action: int | None = None) -> None:
        self.problems.append(MappingProblem(self.filename, self.line_of(key, action), key, message))

    def line_of(self, key: str | None, action: int | None) -> int | None:
        """The line a key is on, searched within its action's block (TOML keeps no positions)."""
        if action is None:
            start, end = 0, self.action_lines[0] - 1 if self.action_lines else len(self.lines)
        elif action - 1 < len(self.action_lines):
            start = self.action_lines[action - 1] - 1
            end = self.action_lines[action] - 1 if action < len(self.action_lines) else len(self.lines)
        else:
            return None
        if key is None:
            return start + 1 if action is not None else None
        leaf = key.split(".")[-1]
        pattern = re.compile(rf"""^\s*(\[\s*action\.{re.escape(leaf)}\s*\]|["']?{re.escape(leaf)}["']?\s*=)""")
        for number in range(start, end):
            if pattern.search(self.lines[number]):
                return number + 1
        return start + 1 if action is not None else None

    def mapping(self, data: dict[str, Any]) -> Mapping:
        for key in sorted(set(data) - _TOP_KEYS):
            self.problem(f"unknown key {key!r}; the top of a mapping takes {', '.join(sorted(_TOP_KEYS))}", key)
        base = self.options(data, Options(), action=None)
        raw_actions = data.get("action", [])
        if not isinstance(raw_actions, list) or not all(isinstance(a, dict) for a in raw_actions):
            self.problem("`action` must be an array of tables: write each one as [[action]]", "action")
            raw_actions = []
        if not raw_actions:
            self.problem("the mapping has no [[action]]; add one (kind = \"identify-user\", ...) or run without "
                         "--mapping to use the default actions", None)
        actions = [self.action(raw, index, base) for index, raw in enumerate(raw_actions, start=1)]
        if self.problems:
            raise MappingError(self.problems)
        return Mapping(actions=tuple(a for a in actions if a is not None), options=base, path=self.filename)

    def options(self, data: MappingABC[str, Any], inherited: Options, *, action: int | None) -> Options:
        chosen: dict[str, Any] = {}
        nulls, multi, region = data.get("nulls"), data.get("multiselect"), data.get("phone_region")
        if nulls is not None:
            if nulls in ("skip", "unset"):
                chosen["nulls"] = nulls
            else:
                self.problem(f'nulls must be "skip" or "unset", not {nulls!r}', "nulls", action=action)
        if multi is not None:
            if multi in ("append", "replace"):
                chosen["multiselect"] = multi
            else:
                self.problem(f'multiselect must be "append" or "replace", not {multi!r}', "multiselect", action=action)
        if region is not None:
            if isinstance(region, str) and re.fullmatch(r"[A-Za-z]{2}", region):
                chosen["phone_region"] = region.upper()
            else:
                self.problem(f"phone_region must be a two-letter country code like \"US\", not {region!r}",
                             "phone_region", action=action)
        return replace(inherited, **chosen)

    def action(self, raw: dict[str, Any], index: int, base: Options) -> Action | None:
        kind = raw.get("kind")
        if kind not in ACTION_TYPES:
            self.problem(f"kind must be one of {', '.join(ACTION_TYPES)}, not {kind!r}", "kind", action=index)
            return None
        allowed = _ACTION_KEYS[kind] | _OPTION_KEYS | {"kind", "on"}
        for key in sorted(set(raw) - allowed):
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.problem(f"unknown key {key!r} for {kind}; {hint}it takes {', '.join(sorted(allowed))}", key,
                         action=index)
        cls = ACTION_TYPES[kind]
        fields: dict[str, Any] = {"index": index, "line": self.line_of(None, index),
                                  "options": self.options(raw, base, action=index)}
        on = raw.get("on", list(cls.default_on))
        if isinstance(on, str):
            on = [on]
        if "on" not in raw and not on:
            self.problem(f"{kind} needs `on`: the event types it takes, like [\"identify\"]", "on", action=index)
        elif not isinstance(on, list) or not on or not all(isinstance(t, str) and t for t in on):
            self.problem("on must be an event type or a list of them, like [\"identify\"]", "on", action=index)
            on = list(cls.default_on)
        fields["on"] = tuple(on)
        for key, value in raw.items():
            if key in _SOURCE_FIELDS & _ACTION_KEYS[kind]:
                source = self.source(value, key, index)
                if source is not None:
                    fields[key] = source
            elif key in _MAP_FIELDS & _ACTION_KEYS[kind]:
                fields[key] = self.attribute_map(value, key, index)
            elif key in ("object", "matching_attribute") and kind == "assert-record":
                if isinstance(value, str) and value:
                    fields[key] = value
                else:
                    self.problem(f"{key} must be an Attio slug or id (a string)", key, action=index)
        if kind == "assert-record":
            for key in ("object", "matching_attribute"):
                if key not in raw:
                    self.problem(f"assert-record needs `{key}`", key, action=index)
        return cls(**fields)

    def attribute_map(self, value: Any, key: str, index: int) -> dict[str, Source]:
        if not isinstance(value, dict):
            self.problem(f"[action.{key}] must be a table of Attio attribute slug = event path", key, action=index)
            return {}
        found: dict[str, Source] = {}
        for slug, raw_source in value.items():
            source = self.source(raw_source, f"{key}.{slug}", index)
            if source is not None:
                found[slug] = source
        return found

    def source(self, value: Any, key: str, index: int) -> Source | None:
        """A path, a list of paths, or `{ literal = ... }`."""
        if isinstance(value, dict):
            if set(value) == {"literal"}:
                return Source(literal=value["literal"])
            self.problem(f"a table here must be {{ literal = ... }}, not {sorted(value)}", key, action=index)
            return None
        texts = value if isinstance(value, list) else [value]
        if not texts or not all(isinstance(t, str) for t in texts):
            self.problem(f"expected an event path like \"$.traits.email\", a list of them, or "
                         f"{{ literal = ... }}; got {value!r}", key, action=index)
            return None
        try:
            return Source(paths=tuple(EventPath.parse(t) for t in texts))
        except ValueError as exc:
            hint = f" (for a fixed value write {{ literal = {texts[0]!r} }})" if not texts[0].startswith("$") else ""
            self.problem(f"{exc}{hint}", key, action=index)
            return None
