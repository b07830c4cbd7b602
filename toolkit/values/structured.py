"""Structured types: personal-name and location (api-notes 4.2).

personal-name is always sent as the object ``{"first_name", "last_name", "full_name"}`` (the
form the notes advise; ``{"value": ...}`` is refused by Attio [wire]). "Last, First" strings
are split at the first comma, as Attio does (extra commas stay in the first name). A string
without a comma, which Attio would store whole as a first name, is read as "First Last" with
a note that says so and names the missing comma.

location is sent as the ten-key object when given as an object (missing keys filled with
null, with a note: Attio refuses a missing key [docs + spec + 3p-live]); a free-text address
is sent as the string, which Attio parses itself ("1 Infinite Loop, Cupertino, CA, 95014, US",
in any order): splitting addresses is not ours to guess, and a second parser here could only
disagree with Attio's. A string with no letter or digit holds no address part at all, and is
refused (the sandbox, which parses like Attio, finds nothing in it either).
"""

from __future__ import annotations

import re
from typing import Any

from .contact import COUNTRY_CODES
from .result import Context, Quick
from .scalars import clean_str

__all__ = ["LOCATION_KEYS", "check_location", "check_personal_name", "fast_name"]

LOCATION_KEYS = (
    "line_1",
    "line_2",
    "line_3",
    "line_4",
    "locality",
    "region",
    "postcode",
    "country_code",
    "latitude",
    "longitude",
)
_NAME_KEYS = ("first_name", "last_name", "full_name")
_NAME_MAX = 10_000
_SPACES = re.compile(r"\s+")
# The spec's own patterns for latitude and longitude strings (api-notes 4.2, location).
_LATITUDE = re.compile(r"[-+]?([1-8]?\d(\.\d+)?|90(\.0+)?)")
_LONGITUDE = re.compile(r"[-+]?(180(\.0+)?|((1[0-7]\d)|([1-9]?\d))(\.\d+)?)")


def check_personal_name(item: Any, ctx: Context) -> dict[str, Any] | None:
    """personal-name: "Last, First", "First Last" (with a note), or the three-key object."""
    if isinstance(item, dict):
        return _name_object(item, ctx)
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not a name", 'write "Last, First"')
        return None
    text = clean_str(item, ctx, limit=_NAME_MAX)
    if text is None:
        return None
    read = _read_name(text)
    if read is None:
        ctx.refuse(item, "the name is empty")
        return None
    first, last, note = read
    if note is not None:
        ctx.note(note)
    return _name(first, last, ctx)


def fast_name(item: Any, _index: Any) -> Quick:
    """personal-name, when `item` is a string `check_personal_name` takes: its answer, without a Context."""
    if type(item) is not str or "\x00" in item or len(item) > _NAME_MAX:
        return None
    if not item.isascii():  # `clean_str`'s other two refusals: a lone surrogate, too many bytes
        try:
            if len(item.encode("utf-8")) > _NAME_MAX:
                return None
        except UnicodeEncodeError:
            return None
    read = _read_name(item)
    if read is None:
        return None
    first, last, note = read
    if not first.strip() and not last.strip():
        return None
    return {"first_name": first, "last_name": last, "full_name": _full(first, last)}, note


def _read_name(item: str) -> tuple[str, str, str | None] | None:
    """A name string's first and last names, and the note saying how it was read; None when empty."""
    # Runs of white space become one space. A printable string holds no white space but the
    # ASCII space (the others are all separators or controls), so most names need no regex.
    if item.isprintable() and "  " not in item:
        text = item.strip()
    else:
        text = _SPACES.sub(" ", item).strip()
    if not text:
        return None
    if "," in text:
        last, first = text.split(",", 1)
        last, first = last.strip(), first.strip()
        if not first and not last:
            return None
        return first, last, None
    first, _, last = text.rpartition(" ")
    if not first:  # one word: a first name only (Attio's own reading of a comma-less name)
        return last, "", f"read {text!r} as a first name only"
    return first, last, (f'read {text!r} as first name {first!r} and last name {last!r}; Attio reads a name '
                         f'without a comma as a first name only, so we send the parts (write "{last}, {first}")')


def _name_object(item: dict[Any, Any], ctx: Context) -> dict[str, Any] | None:
    extra = sorted(str(k) for k in item if k not in _NAME_KEYS)
    if extra:
        ctx.refuse(
            item,
            f"unexpected keys in a name: {', '.join(extra[:5])}",
            'write {"first_name": ..., "last_name": ..., "full_name": ...} or "Last, First"',
        )
        return None
    parts: dict[str, str] = {}
    for key in _NAME_KEYS:
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            ctx.refuse(item, f"{key} must be a string, not {type(value).__name__}")
            return None
        cleaned = clean_str(value, ctx, limit=_NAME_MAX)
        if cleaned is None:
            return None
        parts[key] = cleaned
    if not parts:
        ctx.refuse(item, "the name has no first_name, last_name or full_name")
        return None
    first, last, full = parts.get("first_name"), parts.get("last_name"), parts.get("full_name")
    if first is None and last is None:
        # Only full_name: split it the way a comma-less string is read.
        spaced = _SPACES.sub(" ", full or "").strip()
        first, _, last = spaced.rpartition(" ")
        if not first:
            first, last = last, ""
        ctx.note(f"split full_name {spaced!r} into first name {first!r} and last name {last!r}")
        full = None
    elif first is None or last is None:
        ctx.note("filled the missing name part with an empty string (Attio needs all three keys)")
    result = _name(first or "", last or "", ctx)
    if result is None:
        return None
    if full is None:
        if "full_name" not in parts or parts["full_name"] is None:
            ctx.note(f"filled in full_name {result['full_name']!r}")
    elif full.strip():
        # A full name unlike first + last is the user's to keep (e.g. "Dr. Ada Lovelace").
        result["full_name"] = full
    else:
        ctx.note(f"filled in the empty full_name as {result['full_name']!r}")
    return result


def _name(first: str, last: str, ctx: Context) -> dict[str, Any] | None:
    # Attio requires all three keys [docs + wire]; whether empty strings are allowed is
    # [unconfirmed], so we allow one empty part (a mononym) but never an empty name.
    if not first.strip() and not last.strip():
        ctx.refuse({"first_name": first, "last_name": last}, "the name is empty")
        return None
    return {"first_name": first, "last_name": last, "full_name": _full(first, last)}


def _full(first: str, last: str) -> str:
    """The parts that are not empty, joined by a space."""
    return f"{first} {last}" if first and last else first or last


def check_location(item: Any, ctx: Context) -> dict[str, Any] | str | None:
    """location: a free-text address, or the ten-key object (missing keys filled with null)."""
    if isinstance(item, str):
        text = clean_str(item, ctx)
        if text is None:
            return None
        if not text.strip():
            ctx.refuse(item, "the address is empty")
            return None
        if not any(c.isalnum() for c in text):
            ctx.refuse(item, "the address has no letter or digit, so no part of a location can be read from it",
                       'write it like "1 Infinite Loop, Cupertino, CA, 95014, US"')
            return None
        if text != text.strip():
            ctx.note("trimmed surrounding spaces")
        return text.strip()
    if not isinstance(item, dict):
        hint = 'write "1 Infinite Loop, Cupertino, CA, US"'
        ctx.refuse(item, f"a {type(item).__name__} is not a location", hint)
        return None
    extra = sorted(str(k) for k in item if k not in LOCATION_KEYS)
    if extra:
        reason = f"unexpected keys in a location: {', '.join(extra[:5])}"
        ctx.refuse(item, reason, f"the keys are {', '.join(LOCATION_KEYS)}")
        return None
    result: dict[str, Any] = {}
    missing = [key for key in LOCATION_KEYS if key not in item]
    for key in LOCATION_KEYS:
        value = item.get(key)
        if value is None:
            result[key] = None
            continue
        if key in ("latitude", "longitude") and isinstance(value, (int, float)) and not isinstance(value, bool):
            # Fixed-point, never "1e-05" (the spec's pattern has no exponent); Attio keeps 9 places.
            text = f"{value:.9f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
            ctx.note(f"wrote the {key} {text} as text (Attio takes coordinates as strings)")
            value = text
        if not isinstance(value, str):
            ctx.refuse(item, f"{key} must be a string or null, not {type(value).__name__}")
            return None
        if clean_str(value, ctx, limit=100_000) is None:
            return None
        if key == "country_code":
            if value.upper() not in COUNTRY_CODES:
                ctx.refuse(item, f"{value!r} is not an ISO 3166 alpha-2 country code Attio knows")
                return None
            if value != value.upper():
                ctx.note(f"upper-cased the country code {value!r}")
            value = value.upper()
        elif key == "latitude" and not _LATITUDE.fullmatch(value):
            ctx.refuse(item, f"latitude {value!r} is not between -90 and 90")
            return None
        elif key == "longitude" and not _LONGITUDE.fullmatch(value):
            ctx.refuse(item, f"longitude {value!r} is not between -180 and 180")
            return None
        result[key] = value
    if missing:
        ctx.note(f"filled the missing location keys with null: {', '.join(missing)}")
    if all(v is None for v in result.values()):
        ctx.refuse(item, "every part of the location is empty", "send null to unset it")
        return None
    return result
