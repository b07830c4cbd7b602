"""The sync engine end to end against the in-process sandbox: records, links, outcomes, re-runs."""

from __future__ import annotations

import pytest
from sqlmodel import select
from sync_harness import SyncHarness, ids, record_id

from toolkit.backoff import BackoffPolicy
from toolkit.models import EventRecord, RequestRecord
from toolkit.sandbox import SandboxConfig


@pytest.fixture
def h(database_url: str) -> SyncHarness:
    return SyncHarness(database_url)


def identify(n: int, **traits: object) -> dict[str, object]:
    return {"type": "identify", "messageId": f"id-{n}-{sorted(traits.items())}", "userId": f"u{n}",
            "traits": {"email": f"user{n}@example.com", **traits}}


def test_identify_asserts_a_person_and_a_user_and_links_them(h: SyncHarness) -> None:
    result = h.sync([{"type": "identify", "userId": "user-id", "messageId": "m1",
                      "traits": {"email": "User@Example.com"}}])
    assert result.counts["synced"] == 1
    person = h.find("people", "email_addresses", "user@example.com")
    user = h.find("users", "user_id", "user-id")
    assert ids(user["values"]["person"]) == [record_id(person)]
    assert ids(person["values"]["associated_users"]) == [record_id(user)]
    assert user["values"]["primary_email_address"][0]["email_address"] == "user@example.com"
    h.conforms()


def test_group_asserts_company_and_workspace_and_adds_the_user(h: SyncHarness) -> None:
    h.sync([identify(1), {"type": "group", "messageId": "g", "userId": "u1", "groupId": "ws-1",
                          "traits": {"website": "https://www.acme.com/pricing"}}])
    company = h.find("companies", "domains", "acme.com")
    workspace = h.find("workspaces", "workspace_id", "ws-1")
    user = h.find("users", "user_id", "u1")
    assert ids(workspace["values"]["company"]) == [record_id(company)]
    assert ids(workspace["values"]["users"]) == [record_id(user)]
    assert ids(user["values"]["workspace"]) == [record_id(workspace)]  # the relationship's other side
    h.conforms()


def test_a_new_user_joining_keeps_the_workspaces_other_users(h: SyncHarness) -> None:
    group = {"type": "group", "groupId": "ws-1", "traits": {"website": "acme.com"}}
    h.sync([identify(1), identify(2), {**group, "messageId": "a", "userId": "u1"}])
    h.sync([{**group, "messageId": "b", "userId": "u2"}])
    workspace = h.find("workspaces", "workspace_id", "ws-1")
    members = {record_id(h.find("users", "user_id", u)) for u in ("u1", "u2")}
    assert set(ids(workspace["values"]["users"])) == members


def test_a_rerun_of_the_same_input_sends_nothing(h: SyncHarness) -> None:
    events = [identify(1), identify(2), {"type": "group", "messageId": "g", "userId": "u1", "groupId": "w",
                                         "traits": {"website": "acme.com"}}]
    first = h.sync(events)
    assert first.counts["synced"] == 3
    h.app.clear_log()
    second = h.sync(events)
    assert second.counts["duplicate"] == 3 and second.requests == 0
    assert h.app.log == []


def test_unchanged_traits_in_new_events_send_nothing_and_a_changed_one_only_itself(h: SyncHarness) -> None:
    mapping = """
[[action]]
kind = "identify-user"
[action.person_attributes]
job_title = "$.traits.title"
description = "$.traits.bio"
"""
    h.sync([{**identify(1, title="CTO", bio="hi"), "messageId": "one"}], mapping)
    h.app.clear_log()
    same = h.sync([{**identify(1, title="CTO", bio="hi"), "messageId": "two"}], mapping)
    assert same.counts["unchanged"] == 1 and same.requests == 0
    changed = h.sync([{**identify(1, title="CEO", bio="hi"), "messageId": "three"}], mapping)
    assert changed.counts["synced"] == 1
    (sent,) = [e for e in h.app.log if e.method == "PUT"]  # only the person changed: one assert
    assert set(sent.body["data"]["values"]) == {"email_addresses", "job_title"}
    assert h.find("people", "email_addresses", "user1@example.com")["values"]["job_title"][0]["value"] == "CEO"


def test_an_older_event_never_overwrites_a_newer_value(h: SyncHarness) -> None:
    mapping = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\njob_title = "$.traits.title"\n'
    newer = {**identify(1, title="CEO"), "messageId": "new", "timestamp": "2026-01-02T00:00:00Z"}
    older = {**identify(1, title="Intern"), "messageId": "old", "timestamp": "2026-01-01T00:00:00Z"}
    h.sync([newer], mapping)
    result = h.sync([older], mapping)
    assert result.counts["unchanged"] == 1
    assert h.find("people", "email_addresses", "user1@example.com")["values"]["job_title"][0]["value"] == "CEO"


def test_events_for_the_same_record_keep_their_input_order(h: SyncHarness) -> None:
    mapping = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\njob_title = "$.traits.title"\n'
    events = [{**identify(1, title=f"title {i}"), "messageId": f"m{i}"} for i in range(30)]
    events += [identify(n) for n in range(2, 40)]  # independent events interleave freely
    result = h.sync(events, mapping, concurrency=16)
    assert result.counts["synced"] == len(events)
    assert h.find("people", "email_addresses", "user1@example.com")["values"]["job_title"][0]["value"] == "title 29"


def test_the_seed_examples_work_as_given(h: SyncHarness) -> None:
    mapping = """
[[action]]
kind = "identify-user"
[action.person_attributes]
twitter = "$.traits.twitter_handle"
[action.user_attributes]
workspace = "$.groupId"

[[action]]
kind = "group-workspace"
[action.company_attributes]
name = "$.traits.companyName"
[action.workspace_attributes]
name = "$.traits.workspaceName"
"""
    # The seed's assert-record example is a mapping of its own: people by the email in userId.
    assert_people = """
[[action]]
kind = "assert-record"
on = ["identify"]
object = "people"
matching_attribute = "email_addresses"
[action.attributes]
email_addresses = "$.userId"
twitter = "$.traits.twitter_handle"
"""
    events = [
        {"type": "group", "messageId": "s1", "groupId": "ws_1", "traits": {
            "website": "app.attio.com", "companyName": "Attio", "workspaceName": "Attio HQ", "objectTypeId": "1"}},
        {"type": "identify", "messageId": "s2", "userId": "user-id", "traits": {"email": "user@example.com"}},
        {"type": "identify", "messageId": "s3", "userId": "person@example.com", "groupId": "ws_1",
         "traits": {"email": "person@example.com", "twitter_handle": "@attio"}},
        {"type": "group", "messageId": "s4", "userId": "person@example.com", "groupId": "ws_1",
         "traits": {"website": "https://attio.com"}},
    ]
    result = h.sync(events, mapping)
    assert result.counts["synced"] == 4, h.outcomes()
    company = h.find("companies", "domains", "app.attio.com")
    assert company["values"]["name"][0]["value"] == "Attio"
    workspace = h.find("workspaces", "workspace_id", "ws_1")
    assert workspace["values"]["name"][0]["value"] == "Attio HQ"
    person = h.find("people", "email_addresses", "person@example.com")
    assert person["values"]["twitter"][0]["value"] == "@attio"
    user = h.find("users", "user_id", "person@example.com")
    assert ids(user["values"]["workspace"]) == [record_id(workspace)]
    assert record_id(user) in ids(workspace["values"]["users"])

    asserted = h.sync([{"type": "identify", "messageId": "s5", "userId": "fan@example.com",
                        "traits": {"twitter_handle": "@fan"}}], assert_people)
    assert asserted.counts["synced"] == 1, h.outcomes()
    assert h.find("people", "email_addresses", "fan@example.com")["values"]["twitter"][0]["value"] == "@fan"
    h.conforms()


def test_invalid_events_list_every_problem_and_send_nothing(h: SyncHarness) -> None:
    mapping = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\nphone_numbers = "$.traits.phone"\n'
    data = b'{"type":"identify","messageId":"a","userId":"u1","traits":{"email":"bad","phone":"555 1234"}}\n' \
           b'not json\n{"type":"track","messageId":"t"}\n[1]\n{"messageId":"x"}\n'
    result = h.sync(data, mapping)
    assert result.counts["invalid"] == 5 and result.requests == 0
    with h.cache.session() as session:
        rows = {r.line: r for r in session.exec(select(EventRecord))}
    fields = {p["field"] for p in rows[1].problems}
    assert {"people.email_addresses", "people.phone_numbers"} <= fields
    assert rows[2].reason.startswith("not JSON")  # the line number is its own column, not repeated
    assert rows[3].reason == "no action takes event type 'track'"
    assert "not a JSON object" in rows[4].reason and "type" in rows[5].reason


def test_a_group_for_a_user_not_identified_yet_fails_and_a_later_run_sends_it(h: SyncHarness) -> None:
    group = {"type": "group", "messageId": "g", "userId": "ghost", "groupId": "w", "traits": {"website": "acme.com"}}
    result = h.sync([group])
    assert result.counts["failed"] == 1  # not final: the user may exist tomorrow
    (status, reason), = h.outcomes().values()
    assert reason.startswith("waits for users with user_id ghost to exist") and "primary_email_address" in reason
    h.sync([{"type": "identify", "messageId": "i", "userId": "ghost", "traits": {"email": "ghost@example.com"}}])
    again = h.sync([group])  # the same input again: the group is no duplicate, and goes through now
    assert again.counts["synced"] == 1
    assert ids(h.find("workspaces", "workspace_id", "w")["values"]["users"]) == [record_id(h.find("users", "user_id",
                                                                                                      "ghost"))]


def test_a_group_whose_users_identify_failed_in_the_run_waits_for_that_line(h: SyncHarness) -> None:
    events = [identify(5), {"type": "group", "messageId": "g", "userId": "u5", "groupId": "w",
                            "traits": {"website": "acme.com"}}]
    rule = h.app.fail_requests(503, method="PUT", path="/users/")
    result = h.sync(events, max_attempts=2)
    assert result.counts["failed"] == 2
    assert h.outcomes()[2][1].startswith("waits for line 1: users with user_id u5 does not exist in Attio yet")
    h.app.rules.remove(rule)
    again = h.sync(events)  # a plain re-run sends both, the identify first
    assert again.counts["synced"] == 2 and h.find("workspaces", "workspace_id", "w")["values"]["users"]


def test_attio_refusals_are_rejected_with_status_code_and_message(h: SyncHarness) -> None:
    h.app.add_record("people", {"email_addresses": ["taken@example.com"]})
    mapping = """
[[action]]
kind = "assert-record"
on = ["identify"]
object = "users"
matching_attribute = "user_id"
[action.attributes]
user_id = "$.userId"
primary_email_address = "$.traits.email"
"""
    h.app.add_record("users", {"user_id": "first", "primary_email_address": "taken@example.com"})
    result = h.sync([{"type": "identify", "messageId": "m", "userId": "second",
                      "traits": {"email": "taken@example.com"}}],
                    mapping)
    assert result.counts["rejected"] == 1
    with h.cache.session() as session:
        (row,) = session.exec(select(EventRecord))
    assert row.problems[0]["status"] == 400 and row.problems[0]["code"] == "uniqueness_conflict"
    assert "uniqueness_conflict" in row.reason


def test_retryable_failures_end_failed_and_a_rerun_finishes_them(h: SyncHarness) -> None:
    # Attio answers the others: only this event's writes keep failing, so it spends its attempts.
    events = [identify(1), identify(2), identify(3)]
    rule = h.app.fail_requests(503, body="user2@")
    first = h.sync(events, policy=BackoffPolicy(max_attempts=2, base=0.001), concurrency=1)
    assert (first.counts["failed"], first.counts["synced"]) == (1, 2)
    with h.cache.session() as session:
        attempts = session.exec(select(RequestRecord).where(RequestRecord.run_id == first.run_id,
                                                            RequestRecord.status == 503)).all()
    assert len(attempts) == 2 and {a.message_key for a in attempts} == {events[1]["messageId"]}
    h.app.rules.remove(rule)
    second = h.sync(events)
    assert (second.counts["synced"], second.counts["duplicate"]) == (1, 2)  # failed is not final


def test_with_injected_faults_every_event_ends_synced(database_url: str) -> None:
    # company_from_email off: companies are counted below, and only the group events make them.
    h = SyncHarness(database_url, SandboxConfig(activate=frozenset({"users", "workspaces"}), read_rate=None,
                                                write_rate=None, company_from_email=False))
    # The mix: 20% 429s, 10% 5xx and 5% dropped connections (half after the write).
    h.inject("429=0.2,500=0.05,503=0.05,drop_before=0.025,drop_after=0.025", seed=7)
    events = [identify(n) for n in range(60)]
    events += [{"type": "group", "messageId": f"g{n}", "userId": f"u{n}", "groupId": f"w{n % 5}",
                "traits": {"website": f"c{n % 5}.com"}} for n in range(60)]
    # 35% of answers fail: a request fails 15 times running with odds of 1.5e-7, so with a
    # budget of 15 attempts the whole run (about 500 requests) is all but sure to get through.
    result = h.sync(events, policy=BackoffPolicy(max_attempts=15, base=0.001, cap=0.01, retry_after_cap=0.01))
    assert result.counts["synced"] == 120, {k: v for k, v in h.outcomes().items() if v[0] != "synced"}
    assert len(h.records("people")) == 60 and len(h.records("users")) == 60
    assert len(h.records("workspaces")) == 5 and len(h.records("companies")) == 5
    assert sum(1 for e in h.app.log if e.fault) > 20  # the faults really happened


def test_a_dry_run_sends_nothing_and_does_not_block_the_real_run(h: SyncHarness) -> None:
    events = [identify(1), identify(2), {"type": "identify", "messageId": "bad", "userId": "u3",
                                         "traits": {"email": "nope"}}]
    dry = h.sync(events, dry_run=True)
    assert dry.dry_run and dry.counts["synced"] == 2 and dry.counts["invalid"] == 1
    assert dry.would_write == 4 and h.app.log == []
    real = h.sync(events)
    assert real.counts["synced"] == 2 and real.counts["duplicate"] == 0


def test_every_attempt_is_recorded_with_the_record_id_it_wrote(h: SyncHarness) -> None:
    h.inject("503=0.5", seed=3)
    result = h.sync([identify(1), identify(2)], policy=BackoffPolicy(max_attempts=10, base=0.001, cap=0.001))
    assert result.counts["synced"] == 2
    with h.cache.session() as session:
        rows = session.exec(select(RequestRecord).where(RequestRecord.run_id == result.run_id)).all()
    assert len(rows) == result.requests == len(h.app.log)
    assert {r.status for r in rows} >= {200, 503}
    succeeded = [r for r in rows if r.status == 200]
    people = {record_id(r) for r in h.records("people")}
    users = {record_id(r) for r in h.records("users")}
    assert {r.record_id for r in succeeded if "/people/" in r.path} == people
    assert {r.record_id for r in succeeded if "/users/" in r.path} == users
    assert all(r.matching_attribute in ("email_addresses", "user_id") for r in rows)
    assert all(r.message_key and r.latency >= 0 and r.attempt >= 1 for r in rows)
    assert all(r.record_id is None for r in rows if r.status != 200)
    assert all(r.execution_id for r in rows)  # Attio's x-attio-execution-id, for support tickets


def test_a_message_repeated_far_apart_in_one_input_is_a_duplicate(h: SyncHarness) -> None:
    # The harness flushes every 50 outcomes: the repeat comes long after the first was flushed,
    # so only the audit log (not memory) can know it was seen.
    events = [identify(n) for n in range(120)] + [identify(0)]
    result = h.sync(events)
    assert result.counts["synced"] == 120 and result.counts["duplicate"] == 1
    assert h.outcomes()[121][0] == "duplicate"


def test_a_dry_run_trims_repeats_as_the_real_run_would(h: SyncHarness) -> None:
    events = [{**identify(1), "messageId": f"again-{n}"} for n in range(5)] + [identify(2)]
    dry = h.sync(events, dry_run=True)
    assert (dry.counts["synced"], dry.counts["unchanged"], dry.would_write) == (2, 4, 4)
    real = h.sync(events)
    assert (real.counts["synced"], real.counts["unchanged"]) == (2, 4)
    assert real.requests == dry.would_write


@pytest.mark.parametrize("cache_size", [2, 10_000])
def test_a_dry_run_predicts_exactly_the_writes_the_real_run_sends(h: SyncHarness, monkeypatch: pytest.MonkeyPatch,
                                                                 cache_size: int) -> None:
    """Whatever the memory cache holds: with 2 entries every record falls out of it between its
    events, and the dry run must read back what it would have sent (not take it for new)."""
    import toolkit.state

    monkeypatch.setattr(toolkit.state, "STATE_CACHE", cache_size)
    events: list[dict[str, object]] = []
    for round_ in range(3):  # each person again, unchanged, then with a new plan
        events += [{**identify(n), "messageId": f"same-{round_}-{n}"} for n in range(8)]
        events += [{**identify(n), "messageId": f"group-{round_}-{n}", "type": "group", "groupId": f"w{n % 3}",
                    "traits": {"website": f"w{n % 3}.example.com"}} for n in range(8)]
    events += [identify(n, name=f"Person {n}") for n in range(8)]
    dry = h.sync(events, dry_run=True, mapping='[[action]]\nkind = "identify-user"\n[action.person_attributes]\n'
                 'name = "$.traits.name"\n[[action]]\nkind = "group-workspace"\n')
    real = h.sync(events, mapping='[[action]]\nkind = "identify-user"\n[action.person_attributes]\n'
                  'name = "$.traits.name"\n[[action]]\nkind = "group-workspace"\n')
    writes = [e for e in h.app.log if e.method in ("PUT", "PATCH", "POST") and not e.path.endswith("/query")]
    assert dry.would_write == len(writes) > 0
    assert dry.counts["synced"] == real.counts["synced"] and dry.counts["unchanged"] == real.counts["unchanged"]


def test_state_evicted_from_memory_is_still_used(h: SyncHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit.state

    monkeypatch.setattr(toolkit.state, "STATE_CACHE", 2)  # every lookup misses the cache
    events = [identify(n) for n in range(6)] + [{**identify(n), "messageId": f"re-{n}"} for n in range(6)]
    result = h.sync(events)
    assert result.counts["synced"] == 6 and result.counts["unchanged"] == 6
    assert len(h.records("people")) == 6


def test_a_dry_run_rehearses_references_as_the_real_run_resolves_them(h: SyncHarness) -> None:
    """Found by bench/dry_run.py: a workspace an identify names before its group comes is
    created by the real run (a write the dry run did not count) and must keep one stand-in id in
    the dry run, or the identify repeated after the group looks changed; and a user that does
    not exist yet (its identify was invalid) makes the real run's group wait, so the dry run's."""
    mapping = ('[[action]]\nkind = "identify-user"\n[action.user_attributes]\nworkspace = "$.groupId"\n'
               '[[action]]\nkind = "group-workspace"\n')
    events = [
        {**identify(1), "messageId": "i1", "groupId": "w1"},
        {"type": "group", "messageId": "g1", "userId": "u1", "groupId": "w1", "traits": {"website": "w1.example.com"}},
        {**identify(1), "messageId": "i1-again", "groupId": "w1"},
        {"type": "identify", "messageId": "i2", "userId": "u2", "traits": {"email": "not an email"}},
        {"type": "group", "messageId": "g2", "userId": "u2", "groupId": "w2", "traits": {"website": "w2.example.com"}},
    ]
    dry = h.sync(events, mapping, dry_run=True)
    dry_outcomes = {line: status for line, (status, _) in h.outcomes(dry.run_id).items()}
    real = h.sync(events, mapping)
    assert dry.would_write == len(h.writes()) > 0
    assert dry.counts == real.counts
    assert (real.counts["unchanged"], real.counts["failed"]) == (1, 1)
    assert dry_outcomes == {4: "invalid", 5: "failed"}  # the rest counted, not recorded
