"""EventMapping files: which events become which Attio records.

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

The keys each `[[action]]` takes come from its kind's declaration (`toolkit.actions`). With no
file, the two default actions apply with their default paths (`default_mapping`). A broken file
is refused with a `MappingError` that names the file, the line and the key.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from .actions import ACTION_TYPES, Action, GroupWorkspace, IdentifyUser, Options
from .errors import MappingError, MappingProblem
from .sources import EventPath, Source

__all__ = [
    "EventMapping",
    "default_mapping",
    "dump_mapping",
    "load_mapping",
    "parse_mapping",
]


@dataclass(frozen=True)
class EventMapping:
    """A whole mapping: its actions, in file order, and where it came from."""

    actions: tuple[Action, ...]
    options: Options = Options()
    path: str | None = field(default=None, compare=False)

    def actions_for(self, event_type: str) -> tuple[Action, ...]:
        """The actions that take this event type, in file order."""
        return tuple(a for a in self.actions if event_type in a.on)

    @property
    def label(self) -> str:
        """The file it came from, or ``(default mapping)``."""
        return self.path or "(default mapping)"

    def to_toml(self) -> str:
        """This mapping as a mapping file; see `dump_mapping`."""
        return dump_mapping(self)


def default_mapping() -> EventMapping:
    """The two default actions with their default paths: what runs without a mapping file."""
    return EventMapping(actions=(IdentifyUser(on=("identify",), index=1), GroupWorkspace(on=("group",), index=2)))


# -- parsing ---------------------------------------------------------------------------------

_TOP_KEYS: Final = {"action", "nulls", "multiselect", "phone_region"}
_OPTION_KEYS: Final = {"nulls", "multiselect", "phone_region"}


def load_mapping(path: str | Path) -> EventMapping:
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


def parse_mapping(text: str, filename: str = "<mapping>") -> EventMapping:
    """Parse mapping TOML; see `load_mapping`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of_decode_error(str(exc))
        if line is None and "end of document" in str(exc):
            line = max(1, len(text.splitlines()))
        raise MappingError([MappingProblem(filename, line, None, f"not valid TOML: {exc}")]) from exc
    return _Parser(text, filename).mapping(data)


def _line_of_decode_error(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


_HEADER = re.compile(r"^\s*\[")


class _Parser:
    """Turns the TOML data into a `EventMapping`, collecting every problem with its line."""

    def __init__(self, text: str, filename: str) -> None:
        self.lines = text.splitlines()
        self.filename = filename
        self.problems: list[MappingProblem] = []
        self.action_lines = [i + 1 for i, line in enumerate(self.lines)
                             if re.match(r"\s*\[\[\s*action\s*\]\]", line)]

    def problem(self, message: str, key: str | None = None, *, action: int | None = None) -> None:
        self.problems.append(MappingProblem(self.filename, self.line_of(key, action), key, message))

    def _block(self, action: int | None) -> tuple[int, int] | None:
        """0-based [start, end) of the lines of an action (or of the top, before any table)."""
        if action is None:
            end = next((n for n, line in enumerate(self.lines) if _HEADER.match(line)), len(self.lines))
            return 0, end
        if action - 1 >= len(self.action_lines):
            return None
        start = self.action_lines[action - 1] - 1
        end = self.action_lines[action] - 1 if action < len(self.action_lines) else len(self.lines)
        return start, end

    def line_of(self, key: str | None, action: int | None) -> int | None:
        """The line a key is on (TOML keeps no positions, so the text is searched).

        A plain key is looked for in its action's own lines (before any `[action.x]` table);
        `person_attributes.twitter` in the `[action.person_attributes]` table, or on the line
        of an inline table or dotted key. Falls back to the action's `[[action]]` line.
        """
        block = self._block(action)
        if block is None:
            return None
        start, end = block
        fallback = start + 1 if action is not None else None
        if key is None:
            return fallback
        table, _, leaf = key.rpartition(".")
        if not table:
            own_end = next((n for n in range(start + 1, end) if _HEADER.match(self.lines[n])), end)
            return self._find_key(leaf, start, own_end) or fallback
        header = re.compile(rf"^\s*\[\s*action\s*\.\s*{re.escape(table)}\s*\]")
        for number in range(start, end):
            if header.match(self.lines[number]):
                table_end = next((n for n in range(number + 1, end) if _HEADER.match(self.lines[n])), end)
                return self._find_key(leaf, number + 1, table_end) or number + 1
        inline = re.compile(rf"""^\s*["']?{re.escape(table)}["']?\s*(=|\.)""")
        for number in range(start, end):
            if inline.match(self.lines[number]):
                return number + 1
        return fallback

    def _find_key(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        for number in range(start, end):
            if pattern.match(self.lines[number]):
                return number + 1
        return None

    def mapping(self, data: dict[str, Any]) -> EventMapping:
        for key in sorted(set(data) - _TOP_KEYS):
            self.problem(f"unknown key {key!r}; {_did_you_mean(key, _TOP_KEYS)}the top of a mapping takes "
                         f"{', '.join(sorted(_TOP_KEYS))}", key)
        base = self.options(data, Options(), action=None)
        raw_actions = data.get("action", [])
        if not isinstance(raw_actions, list) or not all(isinstance(a, dict) for a in raw_actions):
            self.problem("`action` must be an array of tables: write each one as [[action]]", "action")
            raw_actions = []
        elif not raw_actions:
            self.problem("the mapping has no [[action]]; add one (kind = \"identify-user\", ...), or leave the "
                         "mapping out to use the two default actions", None)
        actions = [self.action(raw, index, base) for index, raw in enumerate(raw_actions, start=1)]
        if self.problems:
            raise MappingError(self.problems)
        return EventMapping(actions=tuple(a for a in actions if a is not None), options=base, path=self.filename)

    def options(self, data: MappingABC[str, Any], inherited: Options, *, action: int | None) -> Options:
        chosen: dict[str, Any] = {}
        nulls, multi, region = data.get("nulls"), data.get("multiselect"), data.get("phone_region")
        if nulls is not None:
            if isinstance(nulls, str) and nulls in ("skip", "unset"):
                chosen["nulls"] = nulls
            else:
                self.problem(f'nulls must be "skip" or "unset", not {nulls!r}', "nulls", action=action)
        if multi is not None:
            if isinstance(multi, str) and multi in ("append", "replace"):
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
        if kind is None:
            self.problem(f"every [[action]] needs a kind: one of {', '.join(ACTION_TYPES)}", "kind", action=index)
            return None
        if not isinstance(kind, str) or kind not in ACTION_TYPES:
            hint = _did_you_mean(kind, ACTION_TYPES) if isinstance(kind, str) else ""
            self.problem(f"kind must be one of {', '.join(ACTION_TYPES)}, not {kind!r}; {hint}".rstrip("; "),
                         "kind", action=index)
            return None
        cls = ACTION_TYPES[kind]
        allowed = set(cls.keys()) | _OPTION_KEYS | {"kind", "on"}
        for key in sorted(set(raw) - allowed):
            self.problem(f"unknown key {key!r} for {kind}; {_did_you_mean(key, allowed)}it takes "
                         f"{', '.join(sorted(allowed))}", key, action=index)
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
        fields["on"] = tuple(dict.fromkeys(on))
        names = cls.name_fields()
        for key, value in raw.items():
            if key in cls.source_fields():
                if value is False and cls.may_be_off(key):
                    fields[key] = Source()
                elif (source := self.source(value, key, index, cls)) is not None:
                    fields[key] = source
            elif key in cls.map_fields():
                fields[key] = self.attribute_map(value, key, index, cls)
            elif key in names:
                if isinstance(value, str) and value.strip():
                    fields[key] = value.strip()
                else:
                    self.problem(f"{key} must be an Attio slug or id (a string)", key, action=index)
        for key, example in names.items():
            if key not in raw:
                self.problem(f"{kind} needs `{key}`, like {key} = \"{example}\"", key, action=index)
        return cls(**fields)

    def attribute_map(self, value: Any, key: str, index: int, cls: type[Action]) -> dict[str, Source]:
        if not isinstance(value, dict):
            self.problem(f"[action.{key}] must be a table of Attio attribute slug = event path", key, action=index)
            return {}
        found: dict[str, Source] = {}
        for slug, raw_source in value.items():
            if not slug.strip():
                self.problem("an empty attribute slug", key, action=index)
                continue
            source = self.source(raw_source, f"{key}.{slug}", index, cls)
            if source is not None:
                found[slug] = source
        return found

    def source(self, value: Any, key: str, index: int, cls: type[Action]) -> Source | None:
        """A path, a list of paths, or `{ literal = ... }`."""
        if isinstance(value, dict):
            if set(value) == {"literal"}:
                return Source(literal=value["literal"])
            self.problem(f"a table here must be {{ literal = ... }}, not {sorted(value)}", key, action=index)
            return None
        texts = value if isinstance(value, list) else [value]
        if not texts or not all(isinstance(t, str) for t in texts):
            extra = _off_hint(key, cls)
            self.problem(f"expected an event path like \"$.traits.email\", a list of them, or "
                         f"{{ literal = ... }}; got {value!r}{extra}", key, action=index)
            return None
        try:
            return Source(paths=tuple(EventPath.parse(t) for t in texts))
        except ValueError as exc:
            bad = next((t for t in texts if not t.startswith("$")), None)
            hint = f" (for a fixed value write {{ literal = {_toml_value(bad)} }})" if bad is not None else ""
            self.problem(f"{exc}{hint}", key, action=index)
            return None


def _off_hint(key: str, cls: type[Action]) -> str:
    """Where `key = false` means something, say so: here, or in the kinds that allow it."""
    turns_off = cls.may_be_off(key)
    if turns_off:
        return f" ({key} = false turns {turns_off} off)"
    elsewhere = [(kind, off) for kind, other in ACTION_TYPES.items() if (off := other.may_be_off(key))]
    return "".join(f" ({key} = false turns {off} off only in {kind})" for kind, off in elsewhere)


def _did_you_mean(word: str, candidates: Any) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


# -- writing -----------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dump_mapping(mapping: EventMapping) -> str:
    """The mapping as TOML that `parse_mapping` reads back to an equal `EventMapping`.

    Every action is written out in full (its `on` and all its sources, defaults included);
    options are written at the top when they differ from the defaults, and on an action when
    they differ from the top. An action option of None under a top-level value (which no file
    can say) is written as the top's value.
    """
    out: list[str] = []
    top = mapping.options
    for name, value in _option_items(top, Options()):
        out.append(f"{name} = {_toml_value(value)}")
    for action in mapping.actions:
        if out:
            out.append("")
        out.append("[[action]]")
        out.append(f"kind = {_toml_value(action.kind)}")
        out.append(f"on = {_toml_value(list(action.on))}")
        for name in (*action.name_fields(), *action.source_fields()):
            value = getattr(action, name)
            out.append(f"{name} = {_toml_source(value) if isinstance(value, Source) else _toml_value(value)}")
        for name, value in _option_items(action.options, top):
            out.append(f"{name} = {_toml_value(value)}")
        for table in action.map_fields():
            entries: dict[str, Source] = getattr(action, table)
            if entries:
                out.append(f"[action.{table}]")
                out.extend(f"{_toml_key(slug)} = {_toml_source(source)}" for slug, source in entries.items())
    return "\n".join(out) + "\n"


def _option_items(options: Options, base: Options) -> list[tuple[str, Any]]:
    return [(name, getattr(options, name)) for name in ("nulls", "multiselect", "phone_region")
            if getattr(options, name) != getattr(base, name) and getattr(options, name) is not None]


def _toml_source(source: Source) -> str:
    if source.is_literal:
        return f"{{ literal = {_toml_value(source.literal)} }}"
    if not source.paths:
        return "false"
    if len(source.paths) == 1:
        return _toml_value(source.paths[0].text)
    return _toml_value([p.text for p in source.paths])


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    """One TOML value: strings, numbers, booleans, dates and times, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)  # JSON's escapes are all valid in TOML
        return text.replace("\x7f", "\\u007f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, MappingABC):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
