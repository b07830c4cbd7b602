"""`POST …/records/query` in the sandbox: shorthand and verbose filters, logic, sorts, paging
(api-notes 5.6)."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_fixtures import ADMIN_EMAIL, Harness

PEOPLE = [
    {"email_addresses": ["ada@acme.com"], "name": "Lovelace, Ada", "job_title": "Engineer",
     "phone_numbers": ["+14155552671"], "primary_location": "1 Main St, Paris, IDF, 75001, FR"},
    {"email_addresses": ["grace@navy.mil", "grace@acme.com"], "name": "Hopper, Grace", "job_title": "Admiral"},
    {"email_addresses": ["alan@bletchley.org"], "name": "Turing, Alan", "job_title": "Engineer"},
    {"email_addresses": ["nobody@example.com"]},
]  # fmt: skip


@pytest.fixture
def people(sandbox: Harness) -> Harness:
    for values in PEOPLE:
        sandbox.ok(sandbox.create("people", values))
    return sandbox


def names(records: list[dict[str, Any]]) -> list[str]:
    return [r["values"]["name"][0]["full_name"] if r["values"]["name"] else "-" for r in records]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, ["Ada Lovelace", "Grace Hopper", "Alan Turing", "-"]),
        ({"job_title": "Engineer"}, ["Ada Lovelace", "Alan Turing"]),
        ({"name": "Grace Hopper"}, ["Grace Hopper"]),
        ({"email_addresses": "GRACE@acme.com"}, ["Grace Hopper"]),
        ({"email_addresses": {"email_domain": "acme.com"}}, ["Ada Lovelace", "Grace Hopper"]),
        ({"email_addresses": {"email_address": {"$ends_with": ".org"}}}, ["Alan Turing"]),
        ({"name": {"first_name": {"$starts_with": "a"}}}, ["Ada Lovelace", "Alan Turing"]),
        ({"name": {"last_name": {"$contains": "OPP"}}}, ["Grace Hopper"]),
        ({"job_title": {"$in": ["Admiral", "Pilot"]}}, ["Grace Hopper"]),
        ({"job_title": {"$not_empty": True}}, ["Ada Lovelace", "Grace Hopper", "Alan Turing"]),
        ({"job_title": {"$not_empty": False}}, ["-"]),
        ({"$or": [{"job_title": "Admiral"}, {"name": {"last_name": "Turing"}}]}, ["Grace Hopper", "Alan Turing"]),
        ({"$and": [{"job_title": "Engineer"}, {"email_addresses": {"email_domain": "acme.com"}}]}, ["Ada Lovelace"]),
        ({"$not": {"job_title": "Engineer"}}, ["Grace Hopper", "-"]),
        ({"phone_numbers": {"phone_number": "+14155552671"}}, ["Ada Lovelace"]),
        ({"primary_location": {"locality": "Paris", "country_code": "FR"}}, ["Ada Lovelace"]),
        ({"job_title": "Engineer", "name": {"first_name": "Alan"}}, ["Alan Turing"]),
    ],
)
def test_filters(people: Harness, flt: dict[str, Any], expected: list[str]) -> None:
    assert names(people.ok(people.query("people", filter=flt))) == expected


def test_numbers_dates_and_timestamps_compare(sandbox: Harness) -> None:
    for name, value, _day in (("A", 10, "2024-01-01"), ("B", 20, "2024-06-01"), ("C", 30, "2025-01-01")):
        sandbox.ok(sandbox.create("deals", {"name": name, "stage": "Lead", "owner": ADMIN_EMAIL, "value": value}))
    found = sandbox.ok(sandbox.query("deals", filter={"value": {"currency_value": {"$gte": 20, "$lt": 30}}}))
    assert [r["values"]["name"][0]["value"] for r in found] == ["B"]
    later = sandbox.ok(sandbox.query("deals", filter={"created_at": {"$gte": "2000-01-01T00:00:00Z"}}))
    assert len(later) == 3
    refused = sandbox.query("deals", filter={"created_at": {"$gte": "2000-01-01"}})
    assert (refused.status_code, refused.json()["code"]) == (400, "filter_error")


def test_select_status_and_reference_filters(sandbox: Harness) -> None:
    acme = sandbox.ok(sandbox.create("companies", {"domains": ["acme.com"], "categories": ["SaaS", "B2B"]}))
    sandbox.ok(sandbox.create("companies", {"domains": ["b.com"], "categories": ["B2C"]}))
    ada = sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@acme.com"], "company": "acme.com"}))
    sandbox.ok(sandbox.create("deals", {"name": "D", "stage": "Won 🎉", "owner": ADMIN_EMAIL}))
    assert len(sandbox.ok(sandbox.query("companies", filter={"categories": "B2B"}))) == 1
    assert len(sandbox.ok(sandbox.query("deals", filter={"stage": "Won 🎉"}))) == 1
    acme_id = acme["id"]["record_id"]
    by_ref = sandbox.ok(sandbox.query("people", filter={"company": {"target_object": "companies",
                                                                    "target_record_id": acme_id}}))  # fmt: skip
    assert [r["id"] for r in by_ref] == [ada["id"]]
    by_record_id = sandbox.ok(sandbox.query("people", filter={"record_id": {"$in": [ada["id"]["record_id"]]}}))
    assert len(by_record_id) == 1
    through = sandbox.ok(sandbox.query("companies", filter={
        "path": [["companies", "team"], ["people", "email_addresses"]],
        "constraints": {"email_address": {"$eq": "ada@acme.com"}}}))  # fmt: skip
    assert [r["id"] for r in through] == [acme["id"]]
    status_in = sandbox.query("deals", filter={"stage": {"$in": ["Lead"]}})
    assert (status_in.status_code, status_in.json()["code"]) == (400, "invalid_filter_operator")


def test_sorts(people: Harness) -> None:
    asc = people.ok(people.query("people", sorts=[{"direction": "asc", "attribute": "name", "field": "last_name"}]))
    assert names(asc) == ["Grace Hopper", "Ada Lovelace", "Alan Turing", "-"]
    desc = people.ok(people.query("people", sorts=[{"direction": "desc", "attribute": "job_title"},
                                                   {"direction": "desc", "attribute": "name", "field": "first_name"}]))
    assert names(desc) == ["Alan Turing", "Ada Lovelace", "Grace Hopper", "-"]


def test_limit_offset_and_the_short_last_page(people: Harness) -> None:
    pages = [names(people.ok(people.query("people", limit=3, offset=o))) for o in (0, 3, 6)]
    assert pages == [["Ada Lovelace", "Grace Hopper", "Alan Turing"], ["-"], []]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filter": {"shoe_size": 44}}, "unknown_filter_attribute_slug"),
        ({"filter": {"phone_numbers": {"original_phone_number": "+14155552671"}}}, "invalid_filter_field"),
        ({"filter": {"primary_location": {"latitude": "48.85"}}}, "invalid_filter_field"),
        ({"filter": {"job_title": {"$neq": "x"}}}, "invalid_filter_operator"),
        ({"filter": {"job_title": {"$gt": "x"}}}, "invalid_filter_operator"),
        ({"filter": {"$or": {"job_title": "x"}}}, "filter_error"),
        ({"filter": "name"}, "validation_type"),
        ({"limit": -1}, "validation_type"),
        ({"sorts": [{"direction": "up", "attribute": "name"}]}, "filter_error"),
    ],
)
def test_bad_queries_are_refused(sandbox: Harness, body: dict[str, Any], code: str) -> None:
    response = sandbox.client.post("/v2/objects/people/records/query", json=body)
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_query_of_unknown_object_is_404(sandbox: Harness) -> None:
    assert sandbox.query("nope").status_code == 404
