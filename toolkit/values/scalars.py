"""Scalar types: text, number, checkbox, currency and rating (api-notes 4.2).

Each checker takes one element (never a list) and returns its explicit write form, or None
after recording a problem in the context. Helpers here (`clean_str`, `unwrap`, `to_number`)
are shared by the other type families.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .result import Context, Quick, preview

__all__ = [
    "MAX_TEXT_BYTES",
    "check_checkbox",
    "check_currency",
    "check_number",
    "check_rating",
    "check_text",
    "clean_str",
    "fast_checkbox",
    "fast_number",
    "fast_text",
    "unwrap",
]

#: Attio limits text values to "10MB" (api-notes 4.2, text). Which megabyte is not said, so
#: we take the smaller reading (10 * 10**6 bytes of UTF-8): the safe side.
MAX_TEXT_BYTES = 10_000_000

#: A plain decimal number as text: no "nan", "inf", "0x1f" or "1_000" (float() takes those).
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")

#: Beyond 2**53 a 64-bit float no longer holds every integer (Attio stores numbers as floats).
_EXACT_INT = 2**53

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def clean_str(item: str, ctx: Context, *, limit: int = MAX_TEXT_BYTES) -> str | None:
    """`item` if it is a string Attio can store, else None after recording why.

    Refused: over `limit` UTF-8 bytes, NUL characters (JSON allows them, but text stores
    generally refuse them; not confirmed for Attio, so we take the safe side), and lone
    surrogates (from JSON like ``"\\ud800"``), which are not Unicode and cannot be encoded.
    """
    # len() counts code points; a code point is 1 to 4 bytes, so most strings skip encoding.
    if len(item) * 4 > limit or not item.isascii():
        try:
            size = len(item.encode("utf-8"))
        except UnicodeEncodeError:
            ctx.refuse(item, "the text holds a lone surrogate (not valid Unicode)")
            return None
        if size > limit:
            ctx.refuse(item, f"the text is {size:,} bytes; Attio takes at most {limit:,}")
            return None
    if "\x00" in item:
        ctx.refuse(item, "the text holds a NUL character (\\u0000)", "remove the NUL characters")
        return None
    return item


#: What `unwrap` returns after refusing an object of the wrong shape.
REFUSED: Any = object()


def unwrap(item: Any, key: str, ctx: Context) -> Any:
    """The inner value of an explicit object form like ``{"value": x}``.

    Returns the inner value when `item` is that form, `item` itself when it is not a dict,
    and `REFUSED` after recording a problem when it is a dict of another shape (without
    `key`, or with other keys beside it: these forms allow no others).
    """
    if not isinstance(item, dict):
        return item
    if key not in item:
        keys = ", ".join(sorted(map(str, item))[:5]) or "none"
        ctx.refuse(item, f'an object without the "{key}" key (keys: {keys})', f'write {{"{key}": ...}}')
        return REFUSED
    if len(item) > 1:
        extra = sorted(str(k) for k in item if k != key)
        ctx.refuse(item, f"unexpected keys beside \"{key}\": {', '.join(extra[:5])}", f'write only {{"{key}": ...}}')
        return REFUSED
    return item[key]


def to_number(item: Any, ctx: Context) -> int | float | None:
    """A finite JSON number from `item`: numbers as they are, numeric strings with a note.

    Booleans are refused (in Python and JSON they are not numbers, whatever ``True == 1``
    says), as are NaN, infinities, integers too big for a 64-bit float, and anything else.
    """
    if isinstance(item, bool):
        ctx.refuse(item, "a boolean is not a number", "send 1 or 0 if a number was meant")
        return None
    if isinstance(item, int):
        if item.bit_length() > 1023:
            ctx.refuse(item, "the integer is too large for a 64-bit float")
            return None
        if abs(item) > _EXACT_INT:
            ctx.warn(f"{preview(item)} is beyond 2**53; Attio stores numbers as 64-bit floats and may round it")
        return item
    if isinstance(item, float):
        if not math.isfinite(item):
            ctx.refuse(item, f"{item!r} is not a finite number")
            return None
        return item
    if isinstance(item, str):
        text = item.strip()
        if len(text) > 400 or not _NUMERIC.fullmatch(text):
            ctx.refuse(item, "the text is not a number", "send a plain number such as 42 or 42.5")
            return None
        number: int | float = int(text) if _INTEGER.fullmatch(text) else float(text)
        if isinstance(number, float) and not math.isfinite(number):
            ctx.refuse(item, "the number is too large for a 64-bit float")
            return None
        if isinstance(number, int) and number.bit_length() > 1023:
            ctx.refuse(item, "the integer is too large for a 64-bit float")
            return None
        ctx.note(f"read the text {preview(item)!r} as the number {number!r}")
        return number
    ctx.refuse(item, f"a {_kind(item)} is not a number")
    return None


def decimal_places(number: int | float | str) -> int:
    """How many significant digits follow the point.

    Of a number as JSON prints it, or of a numeric string as written ("4.9900" has 2).
    """
    if isinstance(number, int):
        return 0
    try:
        exponent = Decimal(number.strip() if isinstance(number, str) else repr(number)).normalize().as_tuple().exponent
    except InvalidOperation:
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


# Fast paths: the common, already-canonical inputs, answered without a Context. Each returns
# exactly what its checker would (the write form, and no note or warning), or None to take the
# full path; tests/test_values_fast.py holds them to that.


def fast_text(item: Any, _index: Any) -> Quick:
    """text, when `item` is a short ASCII string without NUL."""
    if type(item) is str and len(item) <= 100_000 and item.isascii() and "\x00" not in item:
        return {"value": item}, None
    return None


def fast_number(item: Any, _index: Any) -> Quick:
    """number, when `item` is an int that a 64-bit float holds exactly."""
    if type(item) is int and -_EXACT_INT <= item <= _EXACT_INT:
        return {"value": item}, None
    return None


def fast_checkbox(item: Any, _index: Any) -> Quick:
    """checkbox, when `item` is a boolean."""
    return ({"value": item}, None) if type(item) is bool else None


def check_text(item: Any, ctx: Context) -> dict[str, Any] | None:
    """text: a string, or ``{"value": "..."}``; numbers (numeric ids) become text with a note."""
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    if isinstance(item, str):
        text = clean_str(item, ctx)
        return None if text is None else {"value": text}
    if isinstance(item, bool):
        word = "true" if item else "false"
        ctx.refuse(item, "a boolean is not text", f'quote it ("{word}") if the text {word} is meant')
        return None
    if isinstance(item, int) or (isinstance(item, float) and math.isfinite(item)):
        if isinstance(item, int) and item.bit_length() > 1000:
            # ~300 digits is no id; and str() of 4300+ digits raises in Python 3.11+.
            ctx.refuse(item, "the number is too long to write as text", "send it as a string")
            return None
        text = repr(item)
        ctx.note(f"wrote the number {text} as text")
        return {"value": text}
    ctx.refuse(item, f"a {_kind(item)} is not text")
    return None


def check_number(item: Any, ctx: Context) -> dict[str, Any] | None:
    """number: a finite number or ``{"value": n}``; numeric strings with a note.

    Attio's spec says numbers are "persisted as 64 bit floats" while its docs speak of "up to
    four decimal places of precision"; whether more decimals are refused or rounded is
    [unconfirmed] (api-notes 4.2, number). More than 4 are refused, with the rounded number as
    the hint: the value Attio would hold is never silently different from the event's, nothing
    is sent that Attio might refuse, and the sandbox answers the same (README, "Attio
    behaviours we assume"; currency has the same rule, stated by the docs).
    """
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    number = to_number(item, ctx)
    if number is None:
        return None
    places = decimal_places(item if isinstance(item, str) else number)
    if isinstance(number, float) and places > 4:
        ctx.refuse(item, f"{places} decimal places; Attio keeps numbers to at most 4",
                   f"round it to {round(number, 4)!r}")
        return None
    return {"value": number}


def check_currency(item: Any, ctx: Context) -> dict[str, Any] | None:
    """currency: a number with at most 4 decimal places, or ``{"currency_value": n}``.

    More than 4 decimals is refused, as api-notes 4.2 (currency) states it as a validation
    rule. ``currency_code`` cannot be written (Attio takes the attribute's default): an object
    carrying the default code has it dropped with a note; any other code is refused.
    """
    if isinstance(item, dict) and "currency_code" in item:
        default = ctx.attribute.default_currency_code
        if item["currency_code"] != default or default is None:
            ctx.refuse(
                item,
                "currency_code cannot be written; Attio uses the attribute's default currency "
                f"({default or 'none set'})",
                'send {"currency_value": n} only',
            )
            return None
        # The code it would get anyway: drop it rather than send a key Attio may refuse.
        ctx.note(f"dropped currency_code {default!r}, the attribute's own currency")
        item = {k: v for k, v in item.items() if k != "currency_code"}
    item = unwrap(item, "currency_value", ctx)
    if item is REFUSED:
        return None
    number = to_number(item, ctx)
    if number is None:
        return None
    places = decimal_places(item if isinstance(item, str) else number)
    if places > 4:
        ctx.refuse(
            item, f"{places} decimal places; currency takes at most 4", f"round it to {round(float(number), 4)!r}"
        )
        return None
    return {"currency_value": number}


def check_rating(item: Any, ctx: Context) -> dict[str, Any] | None:
    """rating: an integer from 0 to 5, or ``{"value": n}``.

    Whole floats (4.0) become integers with a note. Fractions are refused: the docs say "pass
    an integer" and whether fractions pass is [unconfirmed] (api-notes 4.2, rating).
    """
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    number = to_number(item, ctx)
    if number is None:
        return None
    if isinstance(number, float):
        if not number.is_integer():
            ctx.refuse(item, "a rating is a whole number", f"round it to {round(number)}")
            return None
        ctx.note(f"wrote the rating {number!r} as the integer {int(number)}")
        number = int(number)
    if not 0 <= number <= 5:
        ctx.refuse(item, f"{preview(number)} is outside 0 to 5", "a rating is 0, 1, 2, 3, 4 or 5")
        return None
    return {"value": number}


def check_checkbox(item: Any, ctx: Context) -> dict[str, Any] | None:
    """checkbox: true or false, or ``{"value": b}``.

    "true"/"false" (any case), "yes"/"no", "1"/"0" and the integers 1/0 become booleans with
    a note. Attio itself takes the strings "true" and "false" (api-notes 4.2), but we always
    send a real boolean so the write form is the same however the value came in.
    """
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    if isinstance(item, bool):
        return {"value": item}
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        word = item.strip().lower() if isinstance(item, str) else str(item) if item in (0, 1) else ""
        if word in _TRUE or word in _FALSE:
            flag = word in _TRUE
            ctx.note(f"read {preview(item)!r} as {str(flag).lower()}")
            return {"value": flag}
    ctx.refuse(item, f"{preview(item)!r} is not a boolean", "send true or false")
    return None


def _kind(value: Any) -> str:
    kinds: dict[type[Any], str] = {dict: "JSON object", list: "list", tuple: "list"}
    return kinds.get(type(value), type(value).__name__)

