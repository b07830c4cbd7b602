"""The reader's limits: poison lines come out invalid, never raise, and never cost unbounded memory."""

from __future__ import annotations

import io
import json
import random
import tracemalloc
from typing import Any

import pytest

from toolkit.events import DEFAULT_MAX_LINE_BYTES, RAW_LIMIT, InputEvent, read_events

GOOD = b'{"type": "identify", "messageId": "good", "userId": "u1", "traits": {"email": "a@example.com"}}'
HUGE = 300 * 1024 * 1024


def lines(data: bytes, **options: Any) -> list[InputEvent]:
    return list(read_events(io.BytesIO(data), **options))


def array(items: list[bytes], **options: Any) -> list[InputEvent]:
    return lines(b"[" + b",\n".join(items) + b"]", **options)


def assert_storable(item: InputEvent) -> None:
    """Everything the sync stores of an item is text SQLite can hold."""
    item.raw.encode("utf-8")
    item.message_key.encode("utf-8")
    (item.problem or "").encode("utf-8")


class GeneratedStream:
    """A binary stream of `size` bytes made on demand, `read(n)` by `read(n)`, never whole."""

    def __init__(self, head: bytes, size: int, filler: bytes, tail: bytes) -> None:
        self.parts = [head, tail]
        self.left = size
        self.filler = filler

    def read(self, n: int = -1) -> bytes:
        if self.parts[0]:
            part, self.parts[0] = self.parts[0], b""
            return part
        if self.left > 0:
            take = min(n, self.left)
            self.left -= take
            return self.filler * take
        part, self.parts[1] = self.parts[1], b""
        return part


def read_with_peak(stream: GeneratedStream) -> tuple[list[InputEvent], int]:
    tracemalloc.start()
    try:
        items = list(read_events(stream))  # type: ignore[arg-type]  # read(n) is all it needs
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- numbers Python will not read -------------------------------------------------------------------

def test_a_number_of_5000_digits_is_an_invalid_line_not_a_crash() -> None:
    poison = b'{"type": "identify", "messageId": "n", "traits": {"age": ' + b"7" * 5000 + b"}}"
    first, bad, last = lines(GOOD + b"\n" + poison + b"\n" + GOOD)
    assert (first.problem, last.problem, last.line) == (None, None, 3)
    assert bad.line == 2 and bad.event is None
    assert bad.problem == "a number with more than 4300 digits"
    assert bad.size == len(poison)


def test_a_number_of_5000_digits_in_a_json_array_is_an_invalid_item_and_the_array_goes_on() -> None:
    poison = b'{"type": "identify", "messageId": "n", "traits": {"age": ' + b"7" * 5000 + b"}}"
    first, bad, last = array([GOOD, poison, GOOD])
    assert (first.problem, last.problem) == (None, None)
    assert (bad.line, bad.problem, bad.size) == (2, "a number with more than 4300 digits", len(poison))
    assert last.line == 3 and last.event is not None


# -- lone surrogates -----------------------------------------------------------------------------------

def event_with(path: str, text: str) -> bytes:
    """An identify event whose value (or key, for path "key") at `path` is `text`, as JSON source."""
    event: dict[str, Any] = {"type": "identify", "messageId": "m", "userId": "u",
                             "traits": {"email": "a@example.com", "name": "Ada", "tags": ["x", {"deep": "y"}]}}
    source = json.dumps(event)
    targets = {"messageId": '"m"', "userId": '"u"', "email": '"a@example.com"', "name": '"Ada"',
               "nested": '"y"', "key": '"name"'}
    return source.replace(targets[path], f'"{text}"', 1).encode()


@pytest.mark.parametrize(("path", "where"), [
    ("messageId", "at $.messageId"),
    ("userId", "at $.userId"),
    ("email", "at $.traits.email"),
    ("name", "at $.traits.name"),
    ("nested", "at $.traits.tags[1].deep"),
    ("key", "in a key of $.traits"),
])
@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\uD83D", "x\\uDC00y"])
def test_a_lone_surrogate_anywhere_makes_the_line_invalid_and_names_where(path: str, where: str, escape: str) -> None:
    code = escape.strip("xy")[2:].lower()
    for item in (lines(event_with(path, escape))[0], array([event_with(path, escape)])[0]):
        assert item.problem == f"contains a lone surrogate (\\u{code}) {where}"
        assert item.event is None and item.message_id is None
        assert_storable(item)


@pytest.mark.parametrize("text", ["\\ud83d\\ude00", "\\\\ud800", "\\u00e9", "\\uDBFF\\uDFFF"])
def test_a_surrogate_pair_or_an_escaped_backslash_is_accepted(text: str) -> None:
    for item in (lines(event_with("name", text))[0], array([event_with("name", text)])[0]):
        assert item.problem is None and item.event is not None
        assert_storable(item)
        json.dumps(item.event, ensure_ascii=False).encode("utf-8")


# -- messageId ------------------------------------------------------------------------------------------

def with_message_id(value: Any) -> bytes:
    return json.dumps({"type": "identify", "messageId": value, "userId": "u"}).encode()


def test_message_id_777_and_the_string_777_are_not_one_key() -> None:
    number, text = lines(with_message_id(777) + b"\n" + with_message_id("777"))
    assert number.problem == "messageId must be a string (got int 777)"
    assert number.event is None and number.message_id is None
    assert text.problem is None and text.message_id == "777"
    assert number.message_key != text.message_key and number.message_key.startswith("sha256:")


@pytest.mark.parametrize(("value", "shown"), [
    (7.5, "float 7.5"), (True, "bool True"), (False, "bool False"), ({"id": 1}, "dict {'id': 1}"),
    (["a"], "list ['a']"), (0, "int 0"),
])
def test_a_message_id_that_is_not_a_string_makes_the_event_invalid(value: Any, shown: str) -> None:
    for item in (lines(with_message_id(value))[0], array([with_message_id(value)])[0]):
        assert item.problem == f"messageId must be a string (got {shown})"
        assert item.message_id is None and item.message_key.startswith("sha256:")


@pytest.mark.parametrize("source", [with_message_id(""), with_message_id(None), b'{"type": "identify", "userId": "u"}'])
def test_an_empty_null_or_absent_message_id_falls_back_to_the_hash_of_the_line(source: bytes) -> None:
    item, = lines(source)
    assert item.problem is None and item.message_id is None
    assert item.message_key.startswith("sha256:")


# -- long lines ---------------------------------------------------------------------------------------

def test_a_line_over_the_limit_is_invalid_with_its_size_and_the_next_line_is_read() -> None:
    long_line = b'{"type": "identify", "bio": "' + b"x" * 5000 + b'"}'
    first, bad, last = lines(GOOD + b"\n" + long_line + b"\n" + GOOD, max_line_bytes=4096)
    assert bad.line == 2 and bad.size == len(long_line) and bad.event is None
    assert bad.problem == f"line is {len(long_line):,} bytes, over the 4,096-byte limit (--max-line-bytes)"
    assert bad.raw == long_line[:RAW_LIMIT].decode()
    assert (first.problem, last.problem, last.line) == (None, None, 3)


@pytest.mark.parametrize("length", [100, 70_000, 200_000, 1_100_000])
def test_the_limit_holds_wherever_chunks_cut_the_line(length: int) -> None:
    limit = 150_000
    long_line = b'{"type": "identify", "bio": "' + b"y" * length + b'"}'
    data = b"\n".join([GOOD, long_line, GOOD, long_line, GOOD])
    items = lines(data, max_line_bytes=limit)
    assert [i.line for i in items] == [1, 2, 3, 4, 5]
    assert [i.size for i in items] == [len(GOOD), len(long_line)] * 2 + [len(GOOD)]
    for item in items[1:4:2]:
        assert (item.problem is None) == (len(long_line) <= limit)
        assert len(item.raw) <= max(RAW_LIMIT, limit)
    assert all(i.problem is None for i in items[::2])


def test_the_default_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_LINE_BYTES == 1 << 20
    at_limit = b'{"type": "identify", "bio": "' + b"z" * ((1 << 20) - 31) + b'"}'
    over = b'{"type": "identify", "bio": "' + b"z" * ((1 << 20) - 30) + b'"}'
    fits, too_long = lines(at_limit + b"\n" + over)
    assert (len(at_limit), fits.problem) == (1 << 20, None)
    assert too_long.problem == "line is 1,048,577 bytes, over the 1,048,576-byte limit (--max-line-bytes)"


def test_a_300_mb_line_is_skipped_in_bounded_memory_and_the_next_line_is_read() -> None:
    stream = GeneratedStream(GOOD + b'\n{"type": "identify", "bio": "', HUGE, b"x", b'"}\r\n\n' + GOOD + b"\n")
    items, peak = read_with_peak(stream)
    assert [(i.line, i.problem is None) for i in items] == [(1, True), (2, False), (4, True)]
    assert items[1].size == len('{"type": "identify", "bio": "') + HUGE + len('"}\r')
    assert items[1].problem == f"line is {items[1].size:,} bytes, over the 1,048,576-byte limit (--max-line-bytes)"
    assert len(items[1].raw) == RAW_LIMIT
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"


def test_a_problem_line_keeps_at_most_raw_limit_characters() -> None:
    garbage = b"not json " * 50_000
    item, = lines(garbage)
    assert item.problem is not None and item.problem.startswith("not JSON")
    assert item.raw == garbage[:RAW_LIMIT].decode() and item.size == len(garbage)


def test_a_good_line_carries_its_size_in_bytes() -> None:
    source = '{"type": "identify", "userId": "Zoë"}'.encode()
    item, = lines(b"\n" + source + b"\r\n")
    assert (item.line, item.size, item.problem) == (2, len(source) + 1, None)


# -- JSON arrays --------------------------------------------------------------------------------------

def test_an_array_item_over_the_limit_is_invalid_and_the_array_goes_on() -> None:
    tricky = b'"a \\" ] , } { [ string", '  # brackets and commas in strings do not end the item
    big = b'{"type": "identify", "bio": [' + tricky * 2000 + b'"end"], "x": {"y": "]"}}'
    first, bad, last = array([GOOD, big, GOOD], max_line_bytes=10_000)
    assert (bad.line, bad.size, bad.event) == (2, len(big), None)
    assert bad.problem == f"item is {len(big):,} bytes, over the 10,000-byte limit (--max-line-bytes)"
    assert (first.problem, last.problem, last.line) == (None, None, 3)


def test_an_array_item_over_the_limit_counts_bytes_not_characters() -> None:
    big = '{"type": "identify", "bio": "ééééé"}'.encode()
    bad, = array([big], max_line_bytes=len(big) - 1)
    assert bad.problem is not None and bad.size == len(big)


@pytest.mark.parametrize("filler", [b"x", b"\\"])  # a 300 MB string of letters, or of escaped backslashes
def test_a_300_mb_array_item_is_skipped_in_bounded_memory_and_the_next_item_is_read(filler: bytes) -> None:
    start, tail = b'{"type": "identify", "bio": "', b'", "n": [1, {"a": "]"}]}'
    stream = GeneratedStream(b"[\n" + GOOD + b",\n" + start, HUGE, filler, tail + b",\n" + GOOD + b"\n]")
    items, peak = read_with_peak(stream)
    assert [(i.line, i.problem is None) for i in items] == [(2, True), (3, False), (4, True)]
    assert items[1].size == len(start) + HUGE + len(tail)
    assert items[1].problem == f"item is {items[1].size:,} bytes, over the 1,048,576-byte limit (--max-line-bytes)"
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"


class ShortReads(io.BytesIO):
    """A stream whose every read returns a random few bytes, cutting items anywhere."""

    def __init__(self, data: bytes, seed: int) -> None:
        super().__init__(data)
        self.random = random.Random(seed)

    def read(self, n: int | None = -1) -> bytes:
        return super().read(self.random.randint(1, 300))


def random_event(rng: random.Random, n: int) -> dict[str, Any]:
    pieces = ['"', "\\", "]", "[", "{", "}", ",", "é", "\u00e9", "\n", "x" * 50, "😀"]
    text = "".join(rng.choice(pieces) for _ in range(rng.choice([1, 10, 100, 1000])))
    return {"type": "identify", "messageId": f"m{n}", "traits": {"bio": text, "list": [text, {"k": [text]}]}}


@pytest.mark.parametrize("seed", range(8))
def test_items_cut_anywhere_by_short_reads_are_read_or_measured_exactly(seed: int) -> None:
    rng = random.Random(seed)
    events = [random_event(rng, n) for n in range(60)]
    sources = [json.dumps(e, ensure_ascii=rng.random() < 0.5).encode() for e in events]
    limit = 3000
    for data, what in ((b"[" + b",\n".join(sources) + b"]", "item"), (b"\n".join(sources), "line")):
        items = list(read_events(ShortReads(data, seed), max_line_bytes=limit))
        assert [i.line for i in items] == list(range(1, len(events) + 1))
        for item, event, source in zip(items, events, sources, strict=True):
            assert item.size == len(source)
            if len(source) > limit:
                assert item.problem is not None and item.problem.startswith(f"{what} is {len(source):,} bytes")
            else:
                assert (item.problem, item.event) == (None, event)


def test_a_character_cut_by_the_first_chunk_of_an_array_is_not_broken_utf8() -> None:
    padding = 65536 - len(b'[{"type": "identify", "bio": "') - 1  # "é" straddles byte 65536
    source = b'[{"type": "identify", "bio": "' + b"a" * padding + "é".encode() + b'"}]'
    item, = lines(source)
    assert item.problem is None and item.event is not None and item.event["bio"].endswith("aé")


def test_broken_json_in_an_array_says_where_in_the_item() -> None:
    first, bad = array([GOOD, b'{\n"x": broken}', GOOD])
    assert first.problem is None
    assert bad.line == 2 and bad.problem == "not JSON: Expecting value: line 2 column 6 (char 7)"


def test_a_limit_below_one_byte_is_refused() -> None:
    with pytest.raises(ValueError, match="max_line_bytes must be at least 1"):
        lines(GOOD, max_line_bytes=0)
