"""Event times: read as instants in UTC, and a time that is not one makes the event invalid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from schema_factory import build_schema

from toolkit.mapping import default_mapping
from toolkit.plan import EventTimeError, event_time, plan_event


def identify(**times: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}, **times}


@pytest.mark.parametrize(("text", "instant"), [
    ("2026-01-01T06:00:00Z", datetime(2026, 1, 1, 6, tzinfo=UTC)),
    ("2026-01-01T10:00:00+05:00", datetime(2026, 1, 1, 5, tzinfo=UTC)),
    ("2026-01-01T00:30:00-02:30", datetime(2026, 1, 1, 3, tzinfo=UTC)),
    ("2026-01-01T10:00:00+23:59", datetime(2025, 12, 31, 10, 1, tzinfo=UTC)),
    ("2026-01-01T10:00:00.123456+00:00", datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-01-01T10:00:00.123Z", datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),  # no offset: read as UTC
    ("2026-01-01 10:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
    ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
    ("20260101T100000Z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
])
def test_an_iso_8601_time_is_read_as_an_instant_in_utc(text: str, instant: datetime) -> None:
    found = event_time({"timestamp": text})
    assert found == instant and found is not None and found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("value", "reason"), [
    ("2026-01-01T10:00:00+25:00", "not an ISO-8601 time: '2026-01-01T10:00:00+25:00'"),
    ("2026-01-01T10:00:00+24:00", "not an ISO-8601 time: '2026-01-01T10:00:00+24:00'"),
    ("2026-01-01T10:00:00-24:00", "not an ISO-8601 time: '2026-01-01T10:00:00-24:00'"),
    ("2026-13-01T00:00:00Z", "not an ISO-8601 time: '2026-13-01T00:00:00Z'"),
    ("2026-02-30T00:00:00Z", "not an ISO-8601 time: '2026-02-30T00:00:00Z'"),
    ("2026-01-01T24:00:00Z", "not an ISO-8601 time: '2026-01-01T24:00:00Z'"),
    ("0000-01-01T00:00:00Z", "not an ISO-8601 time: '0000-01-01T00:00:00Z'"),
    ("", "not an ISO-8601 time: ''"),
    ("yesterday", "not an ISO-8601 time: 'yesterday'"),
    ("2026-01-01T10:00:00ZZ", "not an ISO-8601 time: '2026-01-01T10:00:00ZZ'"),
    (" 2026-01-01T10:00:00Z", "not an ISO-8601 time: ' 2026-01-01T10:00:00Z'"),
    ("x" * 300, f"not an ISO-8601 time: '{'x' * 200}... (300 characters)'"),
    (1700000000, "not an ISO-8601 time: int 1700000000"),
    (1700000000.5, "not an ISO-8601 time: float 1700000000.5"),
    (True, "not an ISO-8601 time: bool True"),
    ({"at": "2026-01-01"}, "not an ISO-8601 time: dict {'at': '2026-01-01'}"),
    (["2026-01-01"], "not an ISO-8601 time: list ['2026-01-01']"),
    ("0001-01-01T00:00:00+01:00", "outside the years 1 to 9999 in UTC: '0001-01-01T00:00:00+01:00'"),
    ("9999-12-31T23:59:59-01:00", "outside the years 1 to 9999 in UTC: '9999-12-31T23:59:59-01:00'"),
])
def test_a_time_that_is_not_an_iso_8601_instant_is_refused_with_its_value(value: Any, reason: str) -> None:
    with pytest.raises(EventTimeError) as caught:
        event_time({"timestamp": value})
    assert (caught.value.key, caught.value.value, caught.value.reason) == ("timestamp", value, reason)


def test_an_offset_time_is_compared_as_the_instant_it_is() -> None:
    east = event_time({"timestamp": "2026-01-01T10:00:00+05:00"})
    utc = event_time({"timestamp": "2026-01-01T06:00:00Z"})
    assert east is not None and utc is not None
    assert east < utc
    assert east.isoformat() < utc.isoformat()  # the sync compares the stored text, too


def test_the_first_present_time_key_is_read_and_checked() -> None:
    assert event_time({}) is None
    assert event_time({"timestamp": None, "sentAt": "2026-01-01T00:00:00Z"}) == datetime(2026, 1, 1, tzinfo=UTC)
    assert event_time({"originalTimestamp": "2026-01-02T00:00:00Z", "sentAt": "garbage"}) == datetime(
        2026, 1, 2, tzinfo=UTC)
    with pytest.raises(EventTimeError) as caught:
        event_time({"originalTimestamp": "garbage", "sentAt": "2026-01-01T00:00:00Z"})
    assert caught.value.key == "originalTimestamp"


@pytest.mark.parametrize("key", ["timestamp", "originalTimestamp", "sentAt", "receivedAt"])
def test_a_bad_time_makes_the_event_invalid_and_sends_nothing(key: str) -> None:
    plan = plan_event(identify(**{key: "2026-13-01T00:00:00Z"}), default_mapping(), build_schema())
    assert not plan.ok and plan.writes == [] and plan.time is None
    assert plan.problems == [{"action": None, "field": key, "input": "2026-13-01T00:00:00Z",
                              "reason": "not an ISO-8601 time: '2026-13-01T00:00:00Z'",
                              "hint": "send an ISO-8601 time such as 2026-01-01T00:00:00Z, or leave it out"}]


def test_a_good_time_is_planned_in_utc() -> None:
    plan = plan_event(identify(timestamp="2026-01-01T10:00:00+05:00"), default_mapping(), build_schema())
    assert plan.ok and plan.writes and plan.time == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert plan.time.utcoffset() == timedelta(0)
