"""The record-state rules, one test each: what `diff_write` sends and what `after_write` keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from toolkit.cache import Cache
from toolkit.state import RecordStates, StateEntry, after_write, diff_write, value_hash

EMAIL = {"email_addresses": [{"email_address": "a@example.com"}]}
T1 = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)


def known(**attributes: tuple[object, datetime | None]) -> StateEntry:
    """A state for record `rec-1` that holds these values, each set at its time."""
    return StateEntry("rec-1", {slug: [value_hash(value), when.isoformat() if when else None]
                                for slug, (value, when) in attributes.items()})


def test_a_new_record_is_asserted_with_every_value() -> None:
    diff = diff_write({**EMAIL, "plan": ["Pro"]}, {}, "email_addresses", None, T1)
    assert diff.need_assert and diff.values == {**EMAIL, "plan": ["Pro"]}


def test_the_matching_attribute_always_goes_with_an_assert() -> None:
    diff = diff_write({**EMAIL, "plan": ["Pro"]}, {}, "email_addresses", known(plan=(["Free"], T1)), T2)
    assert diff.values == {**EMAIL, "plan": ["Pro"]}


def test_a_value_equal_to_the_last_one_sent_is_left_out() -> None:
    diff = diff_write({**EMAIL, "plan": ["Pro"]}, {}, "email_addresses", known(plan=(["Pro"], T1)), T2)
    assert diff.nothing_to_send and diff.values == {}


def test_an_older_event_never_overwrites_a_newer_value() -> None:
    diff = diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", known(plan=(["Pro"], T2)), T1)
    assert diff.nothing_to_send and diff.skipped_older == ["plan"]


def test_a_record_never_confirmed_gets_every_value_even_from_an_older_event() -> None:
    # The first assert failed without a known outcome: the record may not exist, and Attio
    # refuses to create one without its required values, so nothing is held back.
    state = after_write(None, values={"primary_email_address": ["b@example.com"]}, when=T2, certain=False)
    diff = diff_write({**EMAIL, "primary_email_address": ["a@example.com"]}, {}, "email_addresses", state, T1)
    assert diff.values["primary_email_address"] == ["a@example.com"] and diff.skipped_older == []


def test_times_are_compared_as_instants_not_as_text() -> None:
    # 10:00+05:00 is 05:00Z: earlier than 06:00Z, though its text sorts after it.
    plus_five = datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=5)))
    state = StateEntry("rec-1", {"plan": [value_hash(["Pro"]), "2026-01-01T06:00:00Z"]})
    assert diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", state, plus_five).skipped_older == ["plan"]
    later = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))  # 07:00Z
    assert diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", state, later).values["plan"] == ["Free"]


def test_an_event_without_a_time_is_not_held_back_by_one() -> None:
    diff = diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", known(plan=(["Pro"], T2)), None)
    assert diff.values["plan"] == ["Free"]


def test_only_items_not_yet_appended_are_appended() -> None:
    state = after_write(known(), items={"tags": ["a"]}, when=T1)
    diff = diff_write(dict(EMAIL), {"tags": ["a", "b"]}, "email_addresses", state, T2)
    assert diff.appends == {"tags": ["b"]} and not diff.need_assert


def test_a_known_record_with_only_appends_needs_no_assert() -> None:
    diff = diff_write(dict(EMAIL), {"tags": ["a"]}, "email_addresses", known(), T1)
    assert not diff.need_assert and diff.values == {} and diff.appends == {"tags": ["a"]}


def test_after_a_success_the_state_holds_the_value_and_the_newest_time() -> None:
    state = after_write(None, values={"plan": ["Pro"]}, when=T2, record_id="rec-9")
    assert state.record_id == "rec-9" and state.attributes["plan"] == [value_hash(["Pro"]), T2.isoformat()]
    again = after_write(state, values={"plan": ["Pro"]}, when=T1)  # an older event sending the same value
    assert again.attributes["plan"][1] == T2.isoformat()


def test_after_an_unknown_outcome_a_newer_event_sends_even_an_equal_value() -> None:
    state = after_write(known(plan=(["Free"], T1)), values={"plan": ["Pro"]}, when=T2, certain=False)
    assert state.attributes["plan"] == [None, T2.isoformat()]
    # Attio may hold Pro (sent) or Free (not sent): an event after it sends its Free again ...
    newer = diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", state, T2 + timedelta(seconds=1))
    assert newer.values["plan"] == ["Free"]
    # ... and an event older than the unknown write still never overwrites it.
    assert diff_write({**EMAIL, "plan": ["Free"]}, {}, "email_addresses", state, T1).skipped_older == ["plan"]


def test_after_an_unknown_outcome_items_are_not_counted_as_present() -> None:
    state = after_write(known(), items={"tags": ["a"]}, when=T1, certain=False)
    assert state.items == {}


def test_after_write_leaves_the_entry_it_was_given_alone() -> None:
    entry = known(plan=(["Free"], T1))
    after_write(entry, values={"plan": ["Pro"]}, items={"tags": ["x"]}, when=T2)
    assert entry.attributes["plan"][0] == value_hash(["Free"]) and entry.items == {}


def test_record_states_read_through_and_keep_pending_changes_until_committed(fresh_cache: Cache) -> None:
    states = RecordStates(fresh_cache, "http://attio", size=1)
    key, other = ("people", "email_addresses=a"), ("people", "email_addresses=b")
    assert states.get(key) is None
    entry = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="rec-1")
    states.put(key, entry)
    states.get(other)  # evicts `key` from the one-entry cache
    assert states.get(key) is entry  # an uncommitted change is still found
    pending = states.pending()
    assert pending == {key: entry}
    newer = after_write(entry, values={"plan": ["Free"]}, when=T2)
    states.put(key, newer)
    states.committed(pending)  # what was committed was the older one: the newer stays pending
    assert states.pending() == {key: newer}


def test_a_dry_runs_states_are_never_pending(fresh_cache: Cache) -> None:
    states = RecordStates(fresh_cache, "http://attio", persist=False)
    states.put(("people", "k"), StateEntry("(new people k)"))
    assert states.pending() == {} and states.get(("people", "k")) == StateEntry("(new people k)")


def _committed_state(cache: Cache, key: tuple[str, str], entry: StateEntry) -> None:
    """`entry` in the database, as a real run's commit leaves it."""
    from toolkit.audit import _upsert_state
    from toolkit.cache import utcnow

    with cache.session() as session:
        _upsert_state(session, "http://attio", key, entry, utcnow())


def test_a_prefetch_reads_a_batch_of_states_and_never_overrides_a_newer_one_in_memory(fresh_cache: Cache) -> None:
    stored = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="rec-1")
    for n in range(3):
        _committed_state(fresh_cache, ("people", f"k{n}"), stored)
    states = RecordStates(fresh_cache, "http://attio")
    newer = after_write(stored, values={"plan": ["Free"]}, when=T2)
    states.put(("people", "k0"), newer)  # this run's change, not committed yet
    states.prefetch([("people", "k0"), ("people", "k1"), ("people", "k2"), ("people", "never"), ("users", "k1")])
    # One query per object brought them in: no lookup is left for `get` to make.
    fresh_cache.first = fresh_cache.all = None  # type: ignore[assignment,method-assign]
    assert states.get(("people", "k0")) is newer
    assert states.get(("people", "k1")) == stored and states.get(("people", "k2")) == stored
    assert states.get(("people", "never")) is None and states.get(("users", "k1")) is None


def test_a_dry_runs_prefetch_prefers_what_it_spilled_to_the_database(fresh_cache: Cache) -> None:
    stored = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="rec-1")
    _committed_state(fresh_cache, ("people", "k0"), stored)
    states = RecordStates(fresh_cache, "http://attio", persist=False, size=1)
    rehearsed = after_write(stored, values={"plan": ["Free"]}, when=T2)
    states.put(("people", "k0"), rehearsed)
    states.get(("people", "other"))  # evicts k0 into the spill file
    states.prefetch([("people", "k0")])
    try:
        assert states.get(("people", "k0")) == rehearsed != stored
    finally:
        states.close()


def test_value_hashes_stay_what_earlier_versions_stored() -> None:
    """The record state keeps these hashes across versions: a change would resend every value
    once. They are sha256 of the canonical JSON text, whichever encoder makes it."""
    import hashlib
    import json

    forms = [[{"email_address": "Ada@Example.com"}], [{"value": 3.5}], [{"target_object": "people",
             "target_record_id": "rec"}], [{"first_name": "Zoë", "last_name": "\\ud83d", "full_name": None}],
             [{"option": "Pro"}, {"option": "Team"}], [{"value": True}], [{"when": T1}]]
    for form in forms:
        text = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        assert value_hash(form) == hashlib.sha256(text.encode()).hexdigest()[:20]
    assert value_hash([{"email_address": "a@b.c"}]) == "74891474fc374d73aee0"  # as session 2 stored it


def test_a_prefetch_keeps_what_the_batch_needs_among_the_newest_in_memory(fresh_cache: Cache) -> None:
    """A state in memory already, but the oldest there, must not fall out while the batch's
    other states come in: `get` would then ask the database again, one record at a time."""
    stored = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="rec-0")
    _committed_state(fresh_cache, ("people", "k0"), stored)
    states = RecordStates(fresh_cache, "http://attio", size=3)
    states.get(("people", "k0"))
    states.get(("people", "other"))
    states.prefetch([("people", "k0"), ("people", "a"), ("people", "b")])
    fresh_cache.first = fresh_cache.all = None  # type: ignore[assignment,method-assign]
    assert states.get(("people", "k0")) == stored
    assert states.get(("people", "a")) is None and states.get(("people", "b")) is None


def test_a_state_committed_by_the_run_is_read_back_though_the_database_held_none_of_its_object(
        fresh_cache: Cache) -> None:
    """A first sync asks the database once whether it holds states of an object; once the run
    commits one, a state that fell out of memory is read back from it."""
    states = RecordStates(fresh_cache, "http://attio", size=1)
    key, other = ("people", "k0"), ("people", "k1")
    assert states.get(key) is None  # the database holds no people: asked once
    entry = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="rec-0")
    states.put(key, entry)
    _committed_state(fresh_cache, key, entry)  # as the audit log's commit writes it
    states.committed({key: entry})
    states.get(other)  # `key` falls out of memory, and is no longer pending
    assert states.pending() == {} and states.get(key) == entry


def test_a_dry_run_reads_back_from_its_spill_the_last_state_it_changed(fresh_cache: Cache) -> None:
    """A spilled state read back and left alone is not written again; changed, it is."""
    states = RecordStates(fresh_cache, "http://attio", persist=False, size=1)
    key, other = ("people", "k0"), ("people", "k1")
    first = after_write(None, values={"plan": ["Pro"]}, when=T1, record_id="(new people k0)")
    second = after_write(first, values={"plan": ["Free"]}, when=T2)
    try:
        states.put(key, first)
        states.get(other)  # `key` falls out of memory; the next read spills it
        assert states.get(key) == first
        states.get(other)
        assert states.get(key) == first  # read back again, unchanged
        states.put(key, second)
        states.get(other)
        assert states.get(key) == second
        states.get(other)
        assert states.get(key) == second
    finally:
        states.close()
