"""Reading events: JSON lines, a JSON array, or standard input, as a stream.

`read_events` yields one `InputEvent` per input item, in order, in constant memory whatever
the file's size: a JSON array is decoded item by item from a sliding buffer, never loaded
whole. A line that is not JSON, not valid UTF-8, or not an object is not an error of the
reader: it comes out with `problem` set, so the sync can record it as `invalid` with its line
number and go on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

__all__ = ["InputEvent", "read_events"]

_CHUNK: Final = 1 << 16
#: Deeper JSON than this is refused before json.loads can hit Python's recursion limit.
MAX_DEPTH: Final = 200
#: An array item still unreadable at this size is broken, not just cut by a chunk boundary.
MAX_ITEM: Final = 32 << 20


@dataclass(frozen=True)
class InputEvent:
    """One input item: its line number, its raw text, and the parsed event or the problem."""

    line: int
    raw: str
    event: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def message_key(self) -> str:
        """The messageId, or (for events without one) a hash of the raw text."""
        if self.event is not None:
            message_id = self.event.get("messageId")
            if isinstance(message_id, (str, int)) and str(message_id):
                return str(message_id)
        return "sha256:" + hashlib.sha256(self.raw.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def message_id(self) -> str | None:
        value = self.event.get("messageId") if self.event else None
        return str(value) if isinstance(value, (str, int)) else None


def read_events(stream: IO[bytes]) -> Iterator[InputEvent]:
    """Events from a binary stream: JSON lines, or one JSON array (detected by its first `[`)."""
    first = stream.read(_CHUNK)
    stripped = first.lstrip()
    if stripped.startswith(b"["):
        yield from _read_array(first, stream)
    else:
        yield from _read_lines(first, stream)


def _parse(line: int, raw: str) -> InputEvent:
    if _too_deep(raw):
        return InputEvent(line, raw, problem=f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        return InputEvent(line, raw, problem=f"not JSON: {exc}")
    return _event(line, raw, value)


def _event(line: int, raw: str, value: Any) -> InputEvent:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        return InputEvent(line, raw, problem=f"not a JSON object (got {kind})")
    event_type = value.get("type")
    if not isinstance(event_type, str) or not event_type:
        return InputEvent(line, raw, event=value, problem="no `type`: a Segment event needs type (identify, group, ...)")
    return InputEvent(line, raw, event=value)


def _too_deep(raw: str) -> bool:
    # A cheap bound before json.loads: brackets outside strings are not tracked exactly, but
    # any document nested MAX_DEPTH deep has at least that many opening brackets in a row.
    if raw.count("[") + raw.count("{") < MAX_DEPTH:
        return False
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _decode(data: bytes, line: int) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", "replace"), f"not valid UTF-8 at byte {exc.start}"


def _read_lines(first: bytes, stream: IO[bytes]) -> Iterator[InputEvent]:
    buffer = first
    line = 0
    while True:
        newline = buffer.find(b"\n")
        if newline < 0:
            more = stream.read(_CHUNK)
            if more:
                buffer += more
                continue
            if buffer.strip():
                line += 1
                yield _line_event(line, buffer)
            return
        line += 1
        chunk, buffer = buffer[:newline], buffer[newline + 1:]
        if chunk.strip():
            yield _line_event(line, chunk)


def _line_event(line: int, data: bytes) -> InputEvent:
    text, problem = _decode(data.rstrip(b"\r"), line)
    if problem:
        return InputEvent(line, text, problem=problem)
    return _parse(line, text)


def _read_array(first: bytes, stream: IO[bytes]) -> Iterator[InputEvent]:
    """Items of one top-level JSON array, decoded one at a time; `line` is the item's line."""
    decoder = json.JSONDecoder()
    raw_bytes = first
    text, problem = _decode(raw_bytes, 1)
    if problem:  # an array with broken UTF-8 cannot be split into items reliably
        yield InputEvent(1, text[:200], problem=problem)
        return
    buffer = text[text.index("[") + 1:]
    line = 1 + text[: text.index("[")].count("\n")
    pending = b""
    exhausted = False

    def refill() -> bool:
        nonlocal buffer, pending, exhausted
        if exhausted:
            return False
        more = stream.read(_CHUNK)
        if not more:
            exhausted = True
            return False
        data = pending + more
        try:
            buffer += data.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3:  # a character cut by the chunk boundary
                buffer += data[: exc.start].decode("utf-8")
                pending = data[exc.start:]
            else:
                buffer += data.decode("utf-8", "replace")
                pending = b""
        return True

    expect_item = True
    while True:
        stripped = buffer.lstrip()
        line += buffer[: len(buffer) - len(stripped)].count("\n")
        buffer = stripped
        if not buffer:
            if refill():
                continue
            yield InputEvent(line, "", problem="the JSON array is not closed with ]")
            return
        if buffer[0] == "]":
            return
        if buffer[0] == ",":
            if expect_item:
                yield InputEvent(line, ",", problem="an empty item in the JSON array")
            buffer, expect_item = buffer[1:], True
            continue
        try:
            value, end = decoder.raw_decode(buffer)
        except (json.JSONDecodeError, RecursionError) as exc:
            if len(buffer) < MAX_ITEM and refill():
                continue
            yield InputEvent(line, buffer[:200], problem=f"not JSON: {exc}")
            return
        if end == len(buffer) and refill():
            continue  # a number or literal may go on in the next chunk
        raw = buffer[:end]
        yield _event(line, raw, value) if not _too_deep(raw) else InputEvent(line, raw[:200], problem=f"nested deeper than {MAX_DEPTH} levels")
        line += raw.count("\n")
        buffer, expect_item = buffer[end:], False
