"""JSON text for output: what `history --json`, exports and traces print, without loading the database.

Kept apart from `toolkit.history` (which re-exports both) so that the output helpers every
command shares (`toolkit.cli.render`) load no database library: `attio-sync value` starts
without one.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_list", "json_text"]

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
