"""Record writes in the sandbox: assert, create, get, PATCH/PUT, DELETE, uniqueness, required
values and relationship sync (api-notes 5.1-5.5)."""

from __future__ import annotations

import re

import pytest
from sandbox_fixtures import ADMIN_EMAIL, Harness, only, values_of

from toolkit.sandbox import SandboxConfig

NINE_DIGITS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")


def emails(record: dict) -> list[str]:
    return [v["email_address"] for v in values_of(record, "email_addresses")]


def test_record_shape_lists_every_attribute_with_envelopes(sandbox: Harness) -> None:
    record = sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@example.com"]}))
    attributes = sandbox.client.get("/v2/objects/people/attributes").json()["data"]
    assert list(record["values"]) == [a["api_slug"] for a in attributes]
    assert values_of(record, "job_title") == []
    value = only(record, "email_addresses")
    assert value["active_until"] is None
    assert value["created_by_actor"]["type"] == "api-token"
    assert value["attribute_type"] == "email-address"
    assert NINE_DIGITS.match(value["active_from"]) and NINE_DIGITS.match(record["created_at"])
    assert only(record, "record_id")["value"] == record["id"]["record_id"]
    assert record["web_url"] == f"https://app.attio.com/sandbox/person/{record['id']['record_id']}"


def test_get_returns_what_was_written_and_404_for_unknown(sandbox: Harness) -> None:
    created = sandbox.ok(sandbox.create("companies", {"name": "Acme", "domains": ["acme.com"]}))
    fetched = sandbox.ok(sandbox.get("companies", created["id"]["record_id"]))
    assert fetched == created
    missing = sandbox.get("companies", "5f0e1c1e-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'Record with ID "5f0e1c1e-0000-4000-8000-000000000000" not found.'


def test_values_may_be_keyed_by_attribute_id(sandbox: Harness) -> None:
    job = sandbox.client.get("/v2/objects/people/attributes/job_title").json()["data"]["id"]["attribute_id"]
    record = sandbox.ok(sandbox.create("people", {job: "Engineer"}))
    assert only(record, "job_title")["value"] == "Engineer"


def test_assert_creates_then_updates_the_same_record(sandbox: Harness) -> None:
    first = sandbox.ok(sandbox.assert_("people", "email_addresses", {"email_addresses": ["ada@example.com"],
                                                                      "job_title": "Countess"}))  # fmt: skip
    second = sandbox.ok(sandbox.assert_("people", "email_addresses", {"email_addresses": ["ADA@example.com"],
                                                                       "description": "Analyst"}))  # fmt: skip
    assert second["id"] == first["id"]
    assert only(second, "job_title")["value"] == "Countess"  # not in the payload: left alone
    assert only(second, "description")["value"] == "Analyst"
    found = sandbox.ok(sandbox.query("people"))
    assert len(found) == 1


def test_assert_matching_multiselect_is_additive_others_overwritten(sandbox: Harness) -> None:
    sandbox.ok(sandbox.assert_("people", "email_addresses", {
        "email_addresses": ["ada@example.com"], "phone_numbers": ["+14155552671", "+442079460958"]}))  # fmt: skip
    record = sandbox.ok(sandbox.assert_("people", "email_addresses", {
        "email_addresses": ["ada@example.com", "countess@example.com"], "phone_numbers": ["+33142685300"]}))
    assert sorted(emails(record)) == ["ada@example.com", "countess@example.com"]
    assert [v["phone_number"] for v in values_of(record, "phone_numbers")] == ["+33142685300"]


def test_assert_on_a_non_unique_attribute_is_refused(sandbox: Harness) -> None:
    response = sandbox.assert_("people", "job_title", {"job_title": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "matching_attribute_definition_not_unique"
    assert response.json()["message"] == "The matching attribute specified is not a unique attribute."


def test_assert_on_an_unknown_attribute_or_object(sandbox: Harness) -> None:
    unknown_attr = sandbox.assert_("people", "my-attribute", {"name": "x"})
    assert (unknown_attr.status_code, unknown_attr.json()["code"]) == (400, "value_not_found")
    assert unknown_attr.json()["message"] == 'No attribute was found for matching_attribute slug/ID "my-attribute".'
    unknown_obj = sandbox.assert_("peopel", "email_addresses", {})
    assert unknown_obj.status_code == 404
    assert unknown_obj.json()["message"] == 'Object with slug/ID "peopel" not found.'


def test_assert_without_the_matching_value(make_sandbox) -> None:
    strict = make_sandbox()
    refused = strict.assert_("people", "email_addresses", {"job_title": "x"})
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_type")
    assert strict.ok(strict.query("people")) == []
    lenient = make_sandbox(SandboxConfig(missing_matching_value="create"))
    assert lenient.assert_("people", "email_addresses", {"job_title": "x"}).status_code == 200


@pytest.mark.parametrize("code", ["multiple_match_results", "uniqueness_conflict"])
def test_assert_matching_several_records(make_sandbox, code: str) -> None:
    harness = make_sandbox(SandboxConfig(multiple_match=code))  # type: ignore[arg-type]
    harness.ok(harness.create("people", {"email_addresses": ["a@example.com"]}))
    harness.ok(harness.create("people", {"email_addresses": ["b@example.com"]}))
    response = harness.assert_("people", "email_addresses", {"email_addresses": ["a@example.com", "b@example.com"]})
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_required_values_on_create(sandbox: Harness) -> None:
    response = sandbox.create("deals", {"name": "Big one", "stage": "Lead"})
    assert (response.status_code, response.json()["code"]) == (400, "missing_value")
    owner = sandbox.client.get("/v2/objects/deals/attributes/owner").json()["data"]["id"]["attribute_id"]
    assert response.json()["message"] == f'Required value for attribute with ID "{owner}" was not provided.'
    ok = sandbox.create("deals", {"name": "Big one", "stage": "Lead", "owner": ADMIN_EMAIL})
    assert ok.status_code == 200
    # On update, a required value may be left out but not removed.
    record_id = ok.json()["data"]["id"]["record_id"]
    assert sandbox.patch("deals", record_id, {"value": 10}).status_code == 200
    cleared = sandbox.put("deals", record_id, {"name": None})
    assert (cleared.status_code, cleared.json()["code"]) == (400, "missing_value")


def test_uniqueness_conflict_stores_nothing(sandbox: Harness) -> None:
    sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@example.com"]}))
    other = sandbox.ok(sandbox.create("people", {"email_addresses": ["bob@example.com"]}))
    for response in (
        sandbox.create("people", {"email_addresses": ["Ada@Example.com"], "job_title": "Copy"}),
        sandbox.patch("people", other["id"]["record_id"], {"email_addresses": ["ada@example.com"], "job_title": "X"}),
    ):
        assert (response.status_code, response.json()["code"]) == (400, "uniqueness_conflict")
    assert len(sandbox.ok(sandbox.query("people"))) == 2
    unchanged = sandbox.ok(sandbox.get("people", other["id"]["record_id"]))
    assert emails(unchanged) == ["bob@example.com"] and values_of(unchanged, "job_title") == []
    # An assert whose other unique value is held by another record (api-notes 5.2, point 9).
    sandbox.ok(sandbox.assert_("users", "user_id", {"user_id": "u-1", "primary_email_address": "ada@example.com"}))
    clash = sandbox.assert_("users", "user_id", {"user_id": "u-2", "primary_email_address": "ada@example.com"})
    assert (clash.status_code, clash.json()["code"]) == (400, "uniqueness_conflict")
    assert len(sandbox.ok(sandbox.query("users"))) == 1


def test_patch_prepends_and_deduplicates_case_insensitively(sandbox: Harness) -> None:
    record = sandbox.ok(sandbox.create("people", {"email_addresses": ["a@example.com", "b@example.com"]}))
    rid = record["id"]["record_id"]
    patched = sandbox.ok(sandbox.patch("people", rid, {"email_addresses": ["B@example.com", "c@example.com"]}))
    assert emails(patched) == ["c@example.com", "a@example.com", "b@example.com"]
    kept = values_of(patched, "email_addresses")[1]
    assert kept["active_from"] == values_of(record, "email_addresses")[0]["active_from"]


def test_put_overwrites_in_the_order_sent(sandbox: Harness) -> None:
    record = sandbox.ok(sandbox.create("people", {"email_addresses": ["a@example.com", "b@example.com"],
                                                  "job_title": "Keep"}))  # fmt: skip
    rid = record["id"]["record_id"]
    put = sandbox.ok(sandbox.put("people", rid, {"email_addresses": ["c@example.com", "a@example.com"]}))
    assert emails(put) == ["c@example.com", "a@example.com"]
    assert only(put, "job_title")["value"] == "Keep"
    cleared = sandbox.ok(sandbox.put("people", rid, {"email_addresses": [], "job_title": None}))
    assert emails(cleared) == [] and values_of(cleared, "job_title") == []


def test_single_value_replaced_by_patch(sandbox: Harness) -> None:
    rid = sandbox.ok(sandbox.create("people", {"job_title": "A"}))["id"]["record_id"]
    assert only(sandbox.ok(sandbox.patch("people", rid, {"job_title": "B"})), "job_title")["value"] == "B"


def test_empty_patch_is_refused(sandbox: Harness) -> None:
    rid = sandbox.ok(sandbox.create("people", {}))["id"]["record_id"]
    response = sandbox.patch("people", rid, {})
    assert (response.status_code, response.json()["code"]) == (400, "validation_type")


def test_patch_of_unknown_record_is_404(sandbox: Harness) -> None:
    response = sandbox.patch("people", "5f0e1c1e-0000-4000-8000-000000000000", {"job_title": "x"})
    assert response.status_code == 404


def test_delete_answers_empty_object_and_forgets(sandbox: Harness) -> None:
    rid = sandbox.ok(sandbox.create("companies", {"domains": ["acme.com"]}))["id"]["record_id"]
    response = sandbox.client.delete(f"/v2/objects/companies/records/{rid}")
    assert (response.status_code, response.json()) == (200, {})
    assert sandbox.get("companies", rid).status_code == 404
    assert sandbox.client.delete(f"/v2/objects/companies/records/{rid}").status_code == 404
    # The unique value is free again.
    assert sandbox.create("companies", {"domains": ["acme.com"]}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"data": {}}, {"data": {"values": []}}, {"data": {"values": {}, "extra": 1}}, [1]],
    ids=["no-data", "no-values", "values-not-object", "extra-key", "not-object"],
)
def test_body_validation(sandbox: Harness, body: object) -> None:
    response = sandbox.client.post("/v2/objects/people/records", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert (payload["code"], payload["message"]) == ("validation_type", "Body payload validation error.")
    assert payload["validation_errors"]


def test_non_writable_and_unknown_attributes_are_refused(make_sandbox) -> None:
    harness = make_sandbox()
    response = harness.create("people", {"avatar_url": "https://x.example.com/a.png"})
    assert (response.status_code, response.json()["code"]) == (400, "validation_type")
    assert harness.create("people", {"record_id": "x"}).status_code == 400
    unknown = harness.create("people", {"shoe_size": 44})
    assert unknown.json() == {"status_code": 400, "type": "invalid_request_error", "code": "value_not_found",
                              "message": 'Cannot find attribute with slug/ID "shoe_size".'}  # fmt: skip
    other = make_sandbox(SandboxConfig(non_writable_code="immutable_value", activate=frozenset()))
    assert other.create("people", {"avatar_url": "https://x.example.com/a.png"}).json()["code"] == "immutable_value"


# -- relationships --------------------------------------------------------------------------------


def ids(record: dict, slug: str) -> list[str]:
    return [v["target_record_id"] for v in values_of(record, slug)]


def test_person_company_and_company_team_stay_in_sync(sandbox: Harness) -> None:
    acme = sandbox.ok(sandbox.create("companies", {"domains": ["acme.com"]}))["id"]["record_id"]
    globex = sandbox.ok(sandbox.create("companies", {"domains": ["globex.com"]}))["id"]["record_id"]
    ada = sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@acme.com"], "company": "acme.com"}))
    ada_id = ada["id"]["record_id"]
    assert ids(sandbox.ok(sandbox.get("companies", acme)), "team") == [ada_id]
    sandbox.ok(sandbox.patch("people", ada_id, {"company": {"target_object": "companies", "target_record_id": globex}}))
    assert ids(sandbox.ok(sandbox.get("companies", acme)), "team") == []
    assert ids(sandbox.ok(sandbox.get("companies", globex)), "team") == [ada_id]
    # Writing the multiselect end moves the person back and displaces the old single end.
    sandbox.ok(sandbox.patch("companies", acme, {"team": [{"target_object": "people", "target_record_id": ada_id}]}))
    assert ids(sandbox.ok(sandbox.get("people", ada_id)), "company") == [acme]
    assert ids(sandbox.ok(sandbox.get("companies", globex)), "team") == []


def test_user_person_and_workspace_links(sandbox: Harness) -> None:
    company = sandbox.ok(sandbox.create("companies", {"domains": ["acme.com"]}))["id"]["record_id"]
    person = sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@acme.com"]}))["id"]["record_id"]
    workspace = sandbox.ok(sandbox.assert_("workspaces", "workspace_id",
                                           {"workspace_id": "ws-1", "company": "acme.com"}))
    user = sandbox.ok(sandbox.assert_("users", "user_id", {
        "user_id": "u-1", "primary_email_address": "ada@acme.com", "person": "ada@acme.com", "workspace": ["ws-1"]}))
    user_id, workspace_id = user["id"]["record_id"], workspace["id"]["record_id"]
    assert ids(sandbox.ok(sandbox.get("people", person)), "associated_users") == [user_id]
    assert ids(sandbox.ok(sandbox.get("workspaces", workspace_id)), "users") == [user_id]
    assert ids(sandbox.ok(sandbox.get("companies", company)), "associated_workspaces") == [workspace_id]
    # Deleting the user removes it from both other ends.
    sandbox.client.delete(f"/v2/objects/users/records/{user_id}")
    assert ids(sandbox.ok(sandbox.get("people", person)), "associated_users") == []
    assert ids(sandbox.ok(sandbox.get("workspaces", workspace_id)), "users") == []


def test_reference_to_a_missing_record_is_refused(sandbox: Harness) -> None:
    by_id = sandbox.create("people", {"company": {"target_object": "companies",
                                                  "target_record_id": "5f0e1c1e-0000-4000-8000-000000000000"}})
    assert (by_id.status_code, by_id.json()["code"]) == (400, "value_not_found")
    by_domain = sandbox.create("people", {"company": "nowhere.com"})
    assert (by_domain.status_code, by_domain.json()["code"]) == (400, "value_not_found")
    assert sandbox.ok(sandbox.query("people")) == []


def test_reference_by_matching_attribute(sandbox: Harness) -> None:
    acme = sandbox.ok(sandbox.create("companies", {"domains": ["acme.com"]}))["id"]["record_id"]
    record = sandbox.ok(sandbox.create("people", {"company": [{"target_object": "companies",
                                                               "domains": [{"domain": "acme.com"}]}]}))  # fmt: skip
    assert only(record, "company")["target_record_id"] == acme
    assert only(record, "company")["target_object"] == "companies"
    # Not unique: allowed by the linking guide, refused under the 2026-03 OpenAPI reading.
    sandbox.ok(sandbox.patch("companies", acme, {"name": "Acme"}))
    by_name = sandbox.ok(sandbox.create("people", {"company": {"target_object": "companies",
                                                               "name": [{"value": "Acme"}]}}))  # fmt: skip
    assert only(by_name, "company")["target_record_id"] == acme


def test_reference_to_a_disallowed_object_is_refused(sandbox: Harness) -> None:
    person = sandbox.ok(sandbox.create("people", {}))["id"]["record_id"]
    response = sandbox.create("people", {"company": {"target_object": "people", "target_record_id": person}})
    assert (response.status_code, response.json()["code"]) == (400, "validation_type")


def test_record_ids_follow_the_id_seed(make_sandbox) -> None:
    def first_id() -> str:
        harness = make_sandbox(SandboxConfig(id_seed=7))
        return harness.ok(harness.create("people", {}))["id"]["record_id"]

    assert first_id() == first_id()


def test_default_values_apply_on_create(make_sandbox) -> None:
    from toolkit.sandbox import from_schema_dict

    config = SandboxConfig()
    schema = from_schema_dict({"attributes": [
        {"object": "companies", "api_slug": "renewal", "type": "date", "default_value": {"type": "dynamic",
                                                                                       "template": "P1M"}},
        {"object": "companies", "api_slug": "tier", "type": "text", "is_required": True,
         "default_value": {"type": "static", "template": [{"value": "Free", "attribute_type": "text"}]}},
        {"object": "companies", "api_slug": "added_by", "type": "actor-reference",
         "default_value": {"type": "dynamic", "template": "current-user"}},
    ]}, config)  # fmt: skip
    harness = make_sandbox(config, schema)
    record = harness.ok(harness.create("companies", {"name": "Acme"}))
    assert only(record, "tier")["value"] == "Free"  # the default satisfies is_required
    assert only(record, "added_by")["referenced_actor_type"] == "api-token"
    assert only(record, "renewal")["value"] > record["created_at"][:10]
    given = harness.ok(harness.create("companies", {"tier": "Pro"}))
    assert only(given, "tier")["value"] == "Pro"
    # Defaults are for new records only.
    updated = harness.ok(harness.patch("companies", given["id"]["record_id"], {"name": "Later"}))
    assert only(updated, "tier")["value"] == "Pro"


def test_archived_attribute_writes(make_sandbox) -> None:
    from toolkit.sandbox import from_schema_dict

    seed = {"attributes": [{"object": "people", "api_slug": "old_code", "type": "text", "is_archived": True}]}
    strict = make_sandbox(SandboxConfig(), from_schema_dict(seed))
    refused = strict.create("people", {"old_code": "x"})
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_type")
    lenient_config = SandboxConfig(refuse_archived_attributes=False)
    lenient = make_sandbox(lenient_config, from_schema_dict(seed, lenient_config))
    record = lenient.ok(lenient.create("people", {"old_code": "x"}))
    assert "old_code" not in record["values"]  # archived attributes are not listed in reads


def test_add_record_dump_and_reset(sandbox: Harness) -> None:
    app = sandbox.app
    chosen = "5f0e1c1e-0000-4000-8000-0000000000aa"
    seeded = app.add_record("companies", {"domains": ["acme.com"]}, record_id=chosen)
    assert seeded["id"]["record_id"] == chosen
    assert sandbox.ok(sandbox.get("companies", chosen))["values"]["domains"][0]["domain"] == "acme.com"
    with pytest.raises(Exception) as refused:
        app.add_record("companies", {"domains": ["acme.com"]})
    assert getattr(refused.value, "code", None) == "uniqueness_conflict"
    dump = app.dump()
    assert [r["id"]["record_id"] for r in dump["companies"]] == [chosen] and dump["people"] == []
    app.reset()
    assert app.dump()["companies"] == [] and app.log == []
    assert sandbox.get("companies", chosen).status_code == 404


def test_seeded_runs_answer_identically(make_sandbox) -> None:
    """With an id seed and a fixed clock, two runs give byte-identical answers (stable cassettes)."""
    from datetime import UTC, datetime

    from toolkit.sandbox import SandboxApp

    def run() -> list[tuple[str, bytes]]:
        app = SandboxApp(SandboxConfig(id_seed=42), clock=lambda: datetime(2025, 5, 1, 12, 0, tzinfo=UTC))
        harness = make_sandbox(app=app)
        answers = [harness.create("companies", {"domains": ["acme.com"]}),
                   harness.assert_("people", "email_addresses", {"email_addresses": ["a@acme.com"],
                                                                 "company": "acme.com"})]  # fmt: skip
        return [(r.headers["x-attio-execution-id"], r.content) for r in answers]

    assert run() == run()


def test_a_body_that_is_not_json(sandbox: Harness) -> None:
    response = sandbox.client.post("/v2/objects/people/records", content=b"{not json",
                                   headers={"content-type": "application/json"})  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "validation_type")
    assert sandbox.app.log[-1].body == "{not json"
    quoted = sandbox.client.post("/v2/objects/people/records", json="just a string")
    assert (quoted.status_code, quoted.json()["validation_errors"][0]["received"]) == (400, "string")
