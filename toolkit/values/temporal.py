"""Dates and timestamps (api-notes 4.2, date and timestamp).

Strict ISO 8601 shapes are read by one regular expression (years, months, days, times to the
nanosecond, ``Z`` or an offset). python-dateutil is used only for the lenient case a user
would expect, a date written with a month name ("Sep 28, 2023", "Thu, 28 Sep 2023 04:39:17
GMT"), and only when the text names a full date: dateutil fills missing parts from a default,
so each lenient text is parsed against two different defaults and refused if they disagree.
That is what keeps "1" or "Sep" from ever becoming a date. Numeric dates with a four-digit
year ("14/03/2026", "03.14.2026") are read only when one order of day and month gives a date:
"14/03/2026" is 14 March (14 cannot be a month), said in a note; "09/10/2023" is refused, as
either order could be meant (unless both parts are the same, "03/03/2026").

Write forms: dates ``{"value": "YYYY-MM-DD"}``; timestamps ``{"value":
"YYYY-MM-DDTHH:MM:SS.fffffffffZ"}``, always UTC with nine fraction digits, the form Attio
itself returns, so a prepared timestamp prepares to itself.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# python-dateutil ships no type information (its stubs are the separate types-python-dateutil).
from dateutil import parser as dateutil_parser  # type: ignore[import-untyped, unused-ignore]

from .result import Context, Quick
from .scalars import REFUSED, unwrap

__all__ = ["check_date", "check_timestamp", "fast_date"]

_ISO = re.compile(
    r"(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
    r")?)?)?"
)
_MONTH_WORD = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.IGNORECASE
)
_YEAR = re.compile(r"\b\d{4}\b")
# Day and month in either order, then the year: 14/03/2026, 03.14.2026, 14-03-26 (one separator).
_NUMERIC_DATE = re.compile(r"(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{2}|\d{4})")
_LENIENT_MAX = 64
_DEFAULT_A = datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(2001, 2, 2, 1, 1, 1)


@dataclass(frozen=True)
class _Moment:
    """A parsed instant: UTC wall time to the second, nanoseconds, and how it was read."""

    utc: datetime
    nanos: int
    date_only: bool
    # The calendar date as written (before any zone conversion), for the date type.
    local_date: date
    notes: tuple[str, ...]


def fast_date(item: Any, _index: Any) -> Quick:
    """date, when `item` is already a real ``YYYY-MM-DD`` date (see `scalars.fast_text`)."""
    if type(item) is str and len(item) == 10 and _ISO.fullmatch(item):
        try:
            date.fromisoformat(item)
        except ValueError:
            return None
        return {"value": item}, None
    return None


def check_date(item: Any, ctx: Context) -> dict[str, Any] | None:
    """date: ``YYYY-MM-DD`` (or ``{"value": ...}``); years, months and timestamps are coerced.

    A timestamp becomes a date by Attio's rule (api-notes 4.2, date): with a zone, the UTC
    calendar date wins ("2023-01-02T23:00:00-10:00" is 2023-01-03); without one, the date as
    written.
    """
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    if isinstance(item, str) and len(item) == 10 and _ISO.fullmatch(item):
        # The fast path: already YYYY-MM-DD; only the calendar check is left.
        try:
            date.fromisoformat(item)
        except ValueError:
            ctx.refuse(item, "no such calendar date")
            return None
        return {"value": item}
    moment = _read(item, ctx, "date")
    if moment is None:
        return None
    for note in moment.notes:
        ctx.note(note)
    if moment.date_only:
        day = moment.local_date
    else:
        day = moment.utc.date()
        if day != moment.local_date:
            ctx.note(f"took the UTC calendar date {day.isoformat()} of the timestamp (Attio's rule)")
        else:
            ctx.note("dropped the time of day")
    return {"value": f"{day.year:04d}-{day.month:02d}-{day.day:02d}"}


def check_timestamp(item: Any, ctx: Context) -> dict[str, Any] | None:
    """timestamp: ISO 8601 (or ``{"value": ...}``), sent as UTC with nine fraction digits.

    No zone means UTC (Attio's rule, api-notes 4.2, timestamp), said in a note; offsets are
    converted; partial values ("2023-01-02") are completed with zeros, as Attio does.
    """
    item = unwrap(item, "value", ctx)
    if item is REFUSED:
        return None
    moment = _read(item, ctx, "timestamp")
    if moment is None:
        return None
    for note in moment.notes:
        ctx.note(note)
    t = moment.utc
    return {
        "value": f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{moment.nanos:09d}Z"
    }


def _read(item: Any, ctx: Context, kind: str) -> _Moment | None:
    if isinstance(item, datetime):
        return _from_datetime(item, ctx)
    if isinstance(item, date):
        notes = ("no time given: read as midnight UTC (Attio's rule)",) if kind == "timestamp" else ()
        return _Moment(datetime(item.year, item.month, item.day), 0, True, item, notes)
    if isinstance(item, bool) or not isinstance(item, (str, int, float)):
        ctx.refuse(item, f"a {type(item).__name__} is not a {kind}")
        return None
    if not isinstance(item, str):
        hint = _epoch_hint(item, kind)
        if hint is None and isinstance(item, int) and 1000 <= item <= 9999:
            hint = f'send the year as text, "{item}", if a year was meant'
        ctx.refuse(item, f"a number is not a {kind}", hint)
        return None
    text = item.strip()
    match = _ISO.fullmatch(text)
    if match:
        return _from_iso(match, item, ctx, kind)
    if len(text) <= _LENIENT_MAX and _MONTH_WORD.search(text) and _YEAR.search(text):
        return _lenient(text, item, ctx, kind)
    hint = "write it as YYYY-MM-DD" if kind == "date" else "write it as YYYY-MM-DDTHH:MM:SSZ"
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric:
        return _numeric(numeric, item, ctx, kind, hint)
    if len(text) < 30 and re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        ctx.refuse(item, f"a bare number is not a {kind}", _epoch_hint(float(text), kind) or hint)
        return None
    ctx.refuse(item, f"not an ISO 8601 {kind}", hint)
    return None


def _numeric(match: re.Match[str], item: str, ctx: Context, kind: str, hint: str) -> _Moment | None:
    """A date written with numbers only, day and month in some order, then the year.

    Read when only one order is a date: a first number above 12 cannot be a month, so the day
    comes first; a second number above 12, so the month comes first. Either order of two
    numbers up to 12 could be meant, and is refused (unless they are equal).
    """
    first, second, year = int(match["first"]), int(match["second"]), match["year"]
    reading = _one_reading(first, second, year)
    if isinstance(reading, str):
        ctx.refuse(item, reading, hint)
        return None
    when, why = reading
    text = item.strip()
    notes = [f"read {text} as {when.isoformat()} ({why})"]
    if kind == "timestamp":
        notes.append("no time given: read as midnight UTC (Attio's rule)")
    return _Moment(datetime(when.year, when.month, when.day), 0, True, when, tuple(notes))


def _one_reading(first: int, second: int, year: str) -> tuple[date, str] | str:
    """The one date two numbers and a year can be, and why; or why there is not exactly one."""
    if len(year) != 4:
        if first > 12 or second > 12 or first == second:
            return "the century of a two-digit year cannot be known"
        return "the day and month order of this date cannot be known"
    if first > 12 and second > 12:
        return f"neither {first} nor {second} can be a month"
    if first > 12:
        day, month, why = first, second, f"day first: {first} cannot be a month"
    elif second > 12:
        day, month, why = second, first, f"month first: {second} cannot be a month"
    elif first == second:
        day, month, why = first, second, "the day and the month are the same"
    else:
        return "the day and month order of this date cannot be known"
    try:
        return date(int(year), month, day), why
    except ValueError:
        return f"no such calendar date: day {day} of month {month} of {year}"


def _from_iso(match: re.Match[str], item: str, ctx: Context, kind: str) -> _Moment | None:
    parts = match.groupdict()
    notes: list[str] = []
    if item != item.strip():
        notes.append("trimmed surrounding spaces")
    try:
        local = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
        )
    except ValueError as exc:
        ctx.refuse(item, f"no such {kind}: {exc}")
        return None
    if parts["month"] is None or parts["day"] is None:
        filled = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        notes.append(f"read {item.strip()!r} as {filled} (Attio's rule for partial dates)")
    nanos = int((parts["fraction"] or "").ljust(9, "0") or 0)
    date_only = parts["hour"] is None
    zone = parts["zone"]
    if zone is None:
        if not date_only and kind == "timestamp":
            notes.append("no time zone given: read as UTC (Attio's rule)")
        elif date_only and kind == "timestamp":
            notes.append("no time given: read as midnight UTC (Attio's rule)")
        return _Moment(local, nanos, date_only, local.date(), tuple(notes))
    if zone in ("Z", "z"):
        return _Moment(local, nanos, date_only, local.date(), tuple(notes))
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        ctx.refuse(item, f"{zone} is not a time zone offset")
        return None
    offset = timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    try:
        utc = local - offset
    except OverflowError:
        ctx.refuse(item, f"the {kind} in UTC falls outside years 1 to 9999")
        return None
    if offset and kind == "timestamp":
        notes.append(f"converted the offset {zone} to UTC")
    return _Moment(utc, nanos, False, local.date(), tuple(notes))


def _from_datetime(value: datetime, ctx: Context) -> _Moment | None:
    notes: list[str] = []
    if value.tzinfo is None or value.utcoffset() is None:
        notes.append("no time zone given: read as UTC (Attio's rule)")
        utc = value
    else:
        try:
            utc = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            ctx.refuse(value, "the timestamp in UTC falls outside years 1 to 9999")
            return None
    return _Moment(utc.replace(microsecond=0), utc.microsecond * 1000, False, value.date(), tuple(notes))


def _lenient(text: str, item: str, ctx: Context, kind: str) -> _Moment | None:
    """Read a date written with a month name, refusing anything dateutil had to guess."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = dateutil_parser.parse(text, default=_DEFAULT_A)
            second = dateutil_parser.parse(text, default=_DEFAULT_B)
    except (ValueError, OverflowError) as exc:
        ctx.refuse(item, f"not a {kind}: {exc}", "write it as YYYY-MM-DD")
        return None
    if caught:
        ctx.refuse(item, f"not a {kind}: {caught[0].message}", "write the zone as Z or +HH:MM")
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        ctx.refuse(item, "the text does not name a full date (year, month and day)", "write it as YYYY-MM-DD")
        return None
    date_only = (first.hour, first.minute, first.second) != (second.hour, second.minute, second.second)
    moment = _from_datetime(first, ctx)
    if moment is None:
        return None
    notes = [f"read {text!r} as a {kind} written in words"]
    if not date_only:
        notes.extend(moment.notes)  # "no time zone given", when none was
    elif kind == "timestamp":
        notes.append("no time given: read as midnight UTC (Attio's rule)")
    return _Moment(moment.utc, moment.nanos, date_only, first.date(), tuple(notes))


def _epoch_hint(number: float, kind: str) -> str | None:
    """If `number` looks like Unix seconds or milliseconds, the ISO form it would be."""
    for scale, unit in ((1, "seconds"), (1000, "milliseconds")):
        try:
            seconds = number / scale
        except OverflowError:  # an integer beyond any float
            return None
        if 1e8 <= abs(seconds) <= 4.2e9:
            moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
            shown = moment.date().isoformat() if kind == "date" else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            return f'if these are Unix {unit}, send "{shown}"'
    return None
