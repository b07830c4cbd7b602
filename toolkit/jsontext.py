"""JSON text: what `history --json`, exports and traces print, and the canonical text that
record states hash and record keys are made of, without loading the database.

Kept apart from `toolkit.history` (which re-exports the output helpers) so that the helpers
every command shares (`toolkit.cli.render`) load no database library: `attio-sync value`
starts without one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

__all__ = ["canonical_json", "json_list", "json_string", "json_text"]


def _canonical() -> Callable[[Any], str]:
    """`canonical_json`: the C encoder made once, without a circular-reference check (the values
    it is given come from JSON, so they hold no cycles); 3x as fast as `json.dumps` with the
    same arguments, which makes an encoder per call. Python's own where there is no C one."""
    made = getattr(_encoder, "c_make_encoder", None)
    basestring = getattr(_encoder, "c_encode_basestring", None)
    if made is None or basestring is None:
        return json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
    iterencode = made(None, str, basestring, None, ":", ",", True, False, True)

    def canonical(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return canonical


#: The one text of a JSON value: keys sorted, no spaces, characters as they are, and what JSON
#: has no form for as its `str` (what the record state hashes, and what keys a record).
#: The same text as ``json.dumps(value, sort_keys=True, separators=(",", ":"),
#: ensure_ascii=False, default=str)``.
canonical_json: Callable[[Any], str] = _canonical()

#: A text as a JSON string, as `canonical_json` writes it: quoted, characters as they are.
json_string: Callable[[str], str] = _encoder.encode_basestring

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def json_text(value: Any, *, indent: int | None = None) -> str:
    """`value` as JSON text that any UTF-8 stream takes: other characters as they are, but a
    lone surrogate (valid JSON input, as in ``"\\ud83d"``, yet not encodable in UTF-8) as its
    escape, so that it reads back the same."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    if text.isascii():  # most text: no surrogate to look for
        return text
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def json_list(value: Any) -> list[Any]:
    """A stored JSON value (problems, writes) as a list: None is empty, a list is itself, and
    anything else (a lone object, written by hand or by an older version) one item."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
