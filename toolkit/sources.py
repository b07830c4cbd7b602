"""Where a mapped value comes from: event paths, lists of them, or a literal.

`EventPath` points into an event (`$.traits.email`, `$.items[0].id`, `$["a b"]`); a `Source`
tries its paths in order (the first one present wins) or holds a fixed literal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MISSING", "EventPath", "Source"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

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
        """The value at this path, or `MISSING` when any step is absent."""
        current = event
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(current, list) or step >= len(current):
                    return MISSING
                current = current[step]
            else:
                if not isinstance(current, dict) or step not in current:
                    return MISSING
                current = current[step]
        return current

    def getter(self) -> Callable[[Any], Any]:
        """`get` as a function of the event, made once: paths of one or two keys (``$.userId``,
        ``$.traits.email``, most paths) read without the loop."""
        steps = self.steps
        if len(steps) == 1 and isinstance(steps[0], str):
            key = steps[0]
            return lambda event: event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if len(steps) == 2 and isinstance(steps[0], str) and isinstance(steps[1], str):
            outer, inner = steps

            def two(event: Any) -> Any:
                if isinstance(event, dict):
                    found = event.get(outer, MISSING)
                    if isinstance(found, dict):
                        return found.get(inner, MISSING)
                return MISSING

            return two
        return self.get

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Source:
    """Where one value comes from: paths tried in order, or a literal."""

    paths: tuple[EventPath, ...] = ()
    literal: Any = MISSING

    @property
    def is_literal(self) -> bool:
        """True when the value is a fixed literal rather than read from the event."""
        return self.literal is not MISSING

    @property
    def is_set(self) -> bool:
        """False for the empty source (`user_id = false` in group-workspace): nothing is read."""
        return self.is_literal or bool(self.paths)

    def resolve(self, event: Any) -> tuple[bool, Any]:
        """`(found, value)`: the literal, or the first path present in the event.

        A path whose value is null counts as present (null may mean "unset").
        """
        if self.is_literal:
            return True, self.literal
        for path in self.paths:
            value = path.get(event)
            if value is not MISSING:
                return True, value
        return False, None

    def getter(self) -> Callable[[Any], Any]:
        """A function of an event giving what `resolve` finds there, or `MISSING` where it finds
        nothing: made once per source, for reading many events."""
        if self.is_literal:
            literal = self.literal
            return lambda event: literal
        if len(self.paths) == 1:
            return self.paths[0].getter()
        getters = tuple(path.getter() for path in self.paths)

        def first(event: Any) -> Any:
            for get in getters:
                value = get(event)
                if value is not MISSING:
                    return value
            return MISSING

        return first

    def describe(self) -> str:
        """A short human form: the paths joined by "or", the literal, or "(none)"."""
        if self.is_literal:
            return f"literal {self.literal!r}"
        return " or ".join(p.text for p in self.paths) or "(none)"

    @classmethod
    def of(cls, *paths: str) -> Source:
        """A source reading these paths in order; `ValueError` for a malformed path."""
        return cls(paths=tuple(EventPath.parse(p) for p in paths))
