"""Reading events: JSON lines, a JSON array, or standard input, as a stream.

`read_events` yields one `InputEvent` per input item, in order, in constant memory whatever
the file's size: a JSON array is decoded item by item from a sliding window, never loaded
whole, and a line or item over `max_line_bytes` is skipped chunk by chunk, never held whole.
A line that is not JSON, not valid UTF-8, too long, not an object, or that Python cannot hold
safely (a lone surrogate, a number of more than 4300 digits) is not an error of the reader:
it comes out with `problem` set, so the sync can record it as `invalid` with its line number
and go on.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from .values.result import preview

__all__ = ["DEFAULT_MAX_LINE_BYTES", "RAW_LIMIT", "InputEvent", "parse_event", "read_events"]

_CHUNK: Final = 1 << 16
#: Deeper JSON than this is refused before json.loads can hit Python's recursion limit.
MAX_DEPTH: Final = 200
#: A line (or array item) longer than this many bytes is invalid, and never held whole.
DEFAULT_MAX_LINE_BYTES: Final = 1 << 20
#: The most of a problem line's text an `InputEvent` keeps as `raw` (characters).
RAW_LIMIT: Final = 10_000

#: A `\uD800`-`\uDFFF` escape in the raw text: only then can a parsed string hold a lone surrogate.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
#: A surrogate left in a parsed string: json pairs valid ones into one character.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NOT_WHITESPACE: Final = re.compile(r"[^ \t\n\r]")
#: What `_ItemEnd` reads past in C: the rest of a string (up to its quote, or a backslash
#: cut from what it escapes), and outside strings everything but the brackets (and, at depth
#: 0, the commas), whole strings included.
_STRING_REST: Final = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_NESTED: Final = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
_TOP: Final = re.compile(rb'(?:[^"\[\]{},]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)


@dataclass(frozen=True)
class InputEvent:
    """One input item: its line number, its raw text, and the parsed event or the problem.

    `size` is the item's length in bytes in the input. Of a problem line `raw` keeps at most
    `RAW_LIMIT` characters, and `event` is None unless the line is an object without `type`.
    """

    line: int
    raw: str
    event: dict[str, Any] | None = None
    problem: str | None = None
    size: int = 0

    @property
    def message_key(self) -> str:
        """The messageId, or (for events without one) a hash of the raw text."""
        return self.message_id or "sha256:" + hashlib.sha256(self.raw.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def message_id(self) -> str | None:
        """The event's `messageId` when it is a non-empty string, else None."""
        value = self.event.get("messageId") if self.event else None
        return value if isinstance(value, str) and value else None


def read_events(stream: IO[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[InputEvent]:
    """Events from a binary stream: JSON lines, or one JSON array (detected by its first `[`).

    A line or array item longer than `max_line_bytes` bytes comes out invalid with its size.
    Only `stream.read(n)` is called.
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be at least 1 (got {max_line_bytes})")
    first = stream.read(_CHUNK)
    if first.lstrip().startswith(b"["):
        yield from _ArrayReader(stream, max_line_bytes).items(first)
    else:
        yield from _read_lines(first, stream, max_line_bytes)


# -- one item's text to an InputEvent ------------------------------------------------------------

def _invalid(line: int, raw: str, problem: str, size: int) -> InputEvent:
    return InputEvent(line, raw[:RAW_LIMIT], problem=problem, size=size)


def _too_long(line: int, head: str, size: int, limit: int, what: str) -> InputEvent:
    return _invalid(line, head, f"{what} is {size:,} bytes, over the {limit:,}-byte limit (--max-line-bytes)", size)


def _unreadable(exc: ValueError | RecursionError) -> str:
    """Why json could not read an item: a syntax error, too deep, or too long a number."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc}"
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_DEPTH} levels"
    # The only other ValueError json raises: int() refuses more digits than this (Python 3.11+).
    return f"a number with more than {sys.get_int_max_str_digits()} digits"


def parse_event(line: int, raw: str) -> InputEvent:
    """One event's JSON text as the reader would give it at `line` (a queued event, say)."""
    return _parse(line, raw, len(raw.encode("utf-8", "surrogatepass")))


def _parse(line: int, raw: str, size: int) -> InputEvent:
    if raw.count("[") + raw.count("{") >= MAX_DEPTH and _too_deep(raw):
        return _invalid(line, raw, f"nested deeper than {MAX_DEPTH} levels", size)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return _invalid(line, raw, _unreadable(exc), size)
    return _event(line, raw, value, size)


def _event(line: int, raw: str, value: Any, size: int) -> InputEvent:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        return _invalid(line, raw, f"not a JSON object (got {kind})", size)
    if _SURROGATE_ESCAPE.search(raw):
        where = _lone_surrogate(value, "$")
        if where is not None:
            return _invalid(line, raw, f"contains a lone surrogate {where}", size)
    event_type = value.get("type")
    if not isinstance(event_type, str) or not event_type:
        return InputEvent(line, raw[:RAW_LIMIT], event=value, size=size,
                          problem="no `type`: a Segment event needs type (identify, group, ...)")
    message_id = value.get("messageId")
    if message_id is not None and not isinstance(message_id, str):
        return _invalid(line, raw, f"messageId must be a string (got {type(message_id).__name__} "
                                   f"{preview(message_id)})", size)
    return _accepted(line, raw, value, size)


_new = object.__new__


def _accepted(line: int, raw: str, event: dict[str, Any], size: int) -> InputEvent:
    """``InputEvent(line, raw, event=event, size=size)``, made the way its frozen `__init__` would
    make it, but setting its fields directly: one is made for every event read, and the
    `__init__` of a frozen dataclass costs as much as the rest of reading a line but json.loads."""
    made = _new(InputEvent)
    fields = made.__dict__
    fields["line"] = line
    fields["raw"] = raw
    fields["event"] = event
    fields["problem"] = None
    fields["size"] = size
    return made


def _lone_surrogate(value: Any, path: str) -> str | None:
    """Where the first lone surrogate in a parsed value is ("(\\ud800) at $.a.b"), or None.

    Keys are checked before their values, so every key in a returned path is clean text.
    """
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return f"(\\u{ord(found.group()):04x}) at {path}" if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _SURROGATE.search(key)
            if found:
                return f"(\\u{ord(found.group()):04x}) in a key of {path}"
            where = _lone_surrogate(item, f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]")
            if where is not None:
                return where
    elif isinstance(value, list):
        for index, item in enumerate(value):
            where = _lone_surrogate(item, f"{path}[{index}]")
            if where is not None:
                return where
    return None


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


# -- JSON lines --------------------------------------------------------------------------------

def _read_lines(first: bytes, stream: IO[bytes], limit: int) -> Iterator[InputEvent]:
    for line, (data, size) in enumerate(_lines(first, stream, limit), start=1):
        if size > limit:
            yield _too_long(line, data.decode("utf-8", "replace"), size, limit, "line")
        elif data and not data.isspace():
            yield _line_event(line, data, size)


def _lines(first: bytes, stream: IO[bytes], limit: int) -> Iterator[tuple[bytes, int]]:
    """Each line (without its newline) and its size in bytes.

    Of a line over `limit` bytes only the first `RAW_LIMIT` bytes come out: once more than
    `limit` bytes of it are held, the rest is read past chunk by chunk and only counted.
    """
    chunk, start = first, 0
    held: list[bytes] = []  # the current line's start, from earlier chunks
    held_size = 0
    while chunk:
        end = chunk.find(b"\n", start)
        if end < 0:
            held.append(chunk[start:])
            held_size += len(chunk) - start
            if held_size > limit:
                rest, chunk, start = _skip_line(stream)
                yield _head(held), held_size + rest
                held, held_size = [], 0
            else:
                chunk, start = stream.read(_CHUNK), 0
            continue
        size = held_size + end - start
        if held:
            held.append(chunk[start:end])
            yield (b"".join(held) if size <= limit else _head(held)), size
            held, held_size = [], 0
        else:
            yield chunk[start:end if size <= limit else min(end, start + RAW_LIMIT)], size
        start = end + 1
    if held_size:
        yield b"".join(held), held_size


def _head(parts: list[bytes]) -> bytes:
    """The first `RAW_LIMIT` bytes of `parts`, joining no more than that."""
    head = b""
    for part in parts:
        head += part[: RAW_LIMIT - len(head)]
        if len(head) >= RAW_LIMIT:
            break
    return head


def _skip_line(stream: IO[bytes]) -> tuple[int, bytes, int]:
    """Reads past the rest of a line: its size, and the chunk and index just after its newline."""
    skipped = 0
    while chunk := stream.read(_CHUNK):
        end = chunk.find(b"\n")
        if end >= 0:
            return skipped + end, chunk, end + 1
        skipped += len(chunk)
    return skipped, b"", 0


def _line_event(line: int, data: bytes, size: int) -> InputEvent:
    data = data.rstrip(b"\r")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _invalid(line, data[:RAW_LIMIT].decode("utf-8", "replace"), f"not valid UTF-8 at byte {exc.start}", size)
    return _parse(line, text, size)


# -- one JSON array --------------------------------------------------------------------------------

class _ItemEnd:
    """Finds where a top-level array item ends, piece by piece, in bytes.

    It tracks strings, escapes and bracket depth across pieces; the item ends at the first
    `,`, `]` (or a stray `}`) at depth 0 outside a string.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the last piece ended with the backslash of an escape

    def find(self, data: bytes) -> int:
        """The index in `data` of the byte ending the item, or -1 (the state kept for the next piece)."""
        index = 0
        if self.escaped and data:
            index, self.escaped = 1, False
        while index < len(data):
            if self.in_string:
                index = _past(_STRING_REST, data, index)
                if index == len(data):
                    return -1
                if data[index] == ord("\\"):  # the last byte: what it escapes is in the next piece
                    self.escaped = True
                    return -1
                self.in_string = False
            else:
                index = _past(_NESTED if self.depth else _TOP, data, index)
                if index == len(data):
                    return -1
                byte = data[index]
                if byte == ord('"'):  # a string the piece cuts
                    self.in_string = True
                elif byte in b"[{":
                    self.depth += 1
                elif self.depth == 0:
                    return index
                else:
                    self.depth -= 1
            index += 1
        return -1


def _past(pattern: re.Pattern[bytes], data: bytes, index: int) -> int:
    """The index just past what `pattern` (which may match nothing) matches at `index`."""
    found = pattern.match(data, index)
    assert found is not None
    return found.end()


class _ArrayReader:
    """Items of one top-level JSON array, decoded one at a time from a sliding window.

    The window is `text[start:]`: the decoded input not read yet. An item json cannot read is
    retried on a window grown to twice its size, up to `limit`; past that it is measured with
    `_ItemEnd` and read past in bytes, chunk by chunk, never held whole.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.json = json.JSONDecoder()
        self.text = ""
        self.start = 0
        self.line = 1
        self.exhausted = False

    def items(self, first: bytes) -> Iterator[InputEvent]:
        """Each item of the array that starts in `first`; `line` is the line the item starts on."""
        try:
            self.text = self.decoder.decode(first)
        except UnicodeDecodeError as exc:  # an array with broken UTF-8 cannot be split reliably
            yield _invalid(1, first[:RAW_LIMIT].decode("utf-8", "replace"), f"not valid UTF-8 at byte {exc.start}",
                           len(first))
            return
        self.decoder.errors = "replace"  # later broken bytes become U+FFFD: items still split right
        opening = self.text.index("[")
        self.line += self.text.count("\n", 0, opening)
        self.start = opening + 1
        expect_item = True
        while True:
            self.skip_whitespace()
            if self.start == len(self.text):
                if self.refill():
                    continue
                yield InputEvent(self.line, "", problem="the JSON array is not closed with ]")
                return
            char = self.text[self.start]
            if char == "]":
                return
            if char == ",":
                if expect_item:
                    yield InputEvent(self.line, ",", problem="an empty item in the JSON array", size=1)
                self.start += 1
                expect_item = True
                continue
            try:
                value, end = self.json.raw_decode(self.text, self.start)
            except (ValueError, RecursionError) as exc:
                syntax = isinstance(exc, json.JSONDecodeError)  # or only cut short by the window
                if syntax and len(self.text) - self.start <= self.limit and self.refill():
                    continue
                item = self.unreadable(exc)
                yield item
                if syntax and item.size <= self.limit:
                    return  # broken JSON: where the next item starts cannot be trusted
                expect_item = False
                continue
            if end == len(self.text) and self.refill():
                continue  # a number or literal may go on in the next chunk
            yield self.item(self.text[self.start:end], value)
            expect_item = False

    def item(self, raw: str, value: Any) -> InputEvent:
        """The event of an item json read whole, and the window moved past it."""
        line = self.line
        self.line += raw.count("\n")
        self.start += len(raw)
        size = len(raw) if raw.isascii() else len(raw.encode("utf-8"))
        if size > self.limit:
            return _too_long(line, raw[:RAW_LIMIT], size, self.limit, "item")
        if _too_deep(raw):
            return _invalid(line, raw, f"nested deeper than {MAX_DEPTH} levels", size)
        return _event(line, raw, value, size)

    def unreadable(self, exc: ValueError | RecursionError) -> InputEvent:
        """The problem event of an item json cannot read, and the window moved past it."""
        line, start = self.line, self.start
        if isinstance(exc, json.JSONDecodeError):  # where in the item, not in the window
            exc = json.JSONDecodeError(exc.msg, self.text[start:exc.pos], exc.pos - start)
        head, size = self.pass_item()
        if size > self.limit:
            return _too_long(line, head, size, self.limit, "item")
        return _invalid(line, head, _unreadable(exc), size)

    def pass_item(self) -> tuple[str, int]:
        """Moves past the item at `start`, reading on through the stream if it ends beyond
        the window: its first `RAW_LIMIT` characters and its size in bytes."""
        finder = _ItemEnd()
        window = self.text[self.start:].encode("utf-8")
        end = finder.find(window)
        if end >= 0:
            item = window[:end].decode("utf-8")
            self.line += item.count("\n")
            self.start += len(item)
            return item[:RAW_LIMIT], end
        head = self.text[self.start:self.start + RAW_LIMIT]
        self.line += window.count(b"\n")
        size = len(window) + len(self.decoder.getstate()[0])  # and the bytes of a cut character
        self.decoder.reset()
        self.text, self.start = "", 0
        while not self.exhausted:
            chunk = self.stream.read(_CHUNK)
            self.exhausted = not chunk
            end = finder.find(chunk)
            if end >= 0:
                self.line += chunk.count(b"\n", 0, end)
                self.text = self.decoder.decode(chunk[end:])
                return head, size + end
            self.line += chunk.count(b"\n")
            size += len(chunk)
        return head, size

    def skip_whitespace(self) -> None:
        found = _NOT_WHITESPACE.search(self.text, self.start)
        end = found.start() if found else len(self.text)
        self.line += self.text.count("\n", self.start, end)
        self.start = end

    def refill(self) -> bool:
        """Appends the next chunk to the window (dropping what was read); False when nothing came.

        A chunk is at least as long as the window, so the window doubles: retrying an item as
        it grows costs about twice the item's length, not its square.
        """
        if self.exhausted:
            return False
        data = self.stream.read(max(_CHUNK, len(self.text) - self.start))
        self.exhausted = not data
        more = self.decoder.decode(data, final=self.exhausted)
        if more:
            self.text = self.text[self.start:] + more
            self.start = 0
        return bool(data or more)
