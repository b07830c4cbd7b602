"""Issue 15, the sandbox side: what a rehearsal used to get wrong about Attio.

* A new person brings the company of their email domain (on by default; off by config, seed key or
  command-line flag), except for free-mail domains.
* Record references follow docs.attio.com's "Linking referenced records": a matching attribute
  need not be unique when exactly one record matches, and ``target_record_reference`` works; the
  2026-03 OpenAPI reading stays one config away.
* Location strings are parsed by what their parts are, not where they stand.
* Numbers with more than four decimals and suspended members are refused (the safer reading),
  configurable.
* Emails keep their casing in `original_email_address`; matching ignores case.

Every answer here is also checked against Attio's OpenAPI document (the `make_sandbox` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sandbox_fixtures import ALL_OBJECTS, Harness, only, values_of

from toolkit.sandbox import SandboxConfig, SeedError, from_schema_dict
from toolkit.sandbox.command import build_app, sandbox
from toolkit.sandbox.config import FREE_MAIL_DOMAINS


def rid(record: dict[str, Any]) -> str:
    return str(record["id"]["record_id"])


def linked(record: dict[str, Any], slug: str) -> list[str]:
    return [v["target_record_id"] for v in values_of(record, slug)]


# -- a new person brings their company ------------------------------------------------------------


def test_a_new_person_brings_the_company_of_their_email_domain(sandbox: Harness) -> None:
    ada = sandbox.ok(sandbox.create("people", {"email_addresses": ["ada@eu.acme.com"]}))
    (company,) = sandbox.ok(sandbox.query("companies"))
    assert only(company, "domains")["domain"] == "acme.com"  # the registrable root of the email's domain
    assert linked(ada, "company") == [rid(company)] and linked(company, "team") == [rid(ada)]
    # The next person of that domain (an assert that creates) is matched to the same company.
    bob = sandbox.ok(sandbox.assert_("people", "email_addresses", {"email_addresses": ["bob@acme.com"]}))
    assert linked(bob, "company") == [rid(company)]
    assert sorted(linked(sandbox.ok(sandbox.get("companies", rid(company))), "team")) == sorted([rid(ada), rid(bob)])
    assert len(sandbox.ok(sandbox.query("companies"))) == 1


def test_a_company_is_matched_by_its_domain_or_root_domain(sandbox: Harness) -> None:
    www = sandbox.ok(sandbox.create("companies", {"domains": ["www.globex.com"]}))
    carol = sandbox.ok(sandbox.create("people", {"email_addresses": ["carol@globex.com"]}))
    assert linked(carol, "company") == [rid(www)]
    assert len(sandbox.ok(sandbox.query("companies"))) == 1


def test_free_mail_domains_bring_no_company_and_the_first_work_address_decides(sandbox: Harness) -> None:
    gmail = sandbox.ok(sandbox.create("people", {"email_addresses": ["someone@gmail.com", "x@outlook.com"]}))
    assert values_of(gmail, "company") == [] and sandbox.ok(sandbox.query("companies")) == []
    both = sandbox.ok(sandbox.create("people", {"email_addresses": ["dan@gmail.com", "dan@initech.com"]}))
    (company,) = sandbox.ok(sandbox.query("companies"))
    assert only(company, "domains")["domain"] == "initech.com" and linked(both, "company") == [rid(company)]
    assert {"gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"} <= FREE_MAIL_DOMAINS


def test_what_the_write_says_wins_and_updates_bring_nothing(sandbox: Harness) -> None:
    globex = sandbox.ok(sandbox.create("companies", {"domains": ["globex.com"]}))
    eve = sandbox.ok(sandbox.create("people", {"email_addresses": ["eve@acme.com"], "company": "globex.com"}))
    assert linked(eve, "company") == [rid(globex)]
    assert len(sandbox.ok(sandbox.query("companies"))) == 1  # no acme.com: the person named a company
    nobody = sandbox.ok(sandbox.create("people", {"name": "Doe, Jane"}))
    sandbox.ok(sandbox.patch("people", rid(nobody), {"email_addresses": ["jane@hooli.com"]}))
    assert len(sandbox.ok(sandbox.query("companies"))) == 1  # only creating a person brings a company


def test_company_from_email_can_be_turned_off_and_the_list_changed(make_sandbox) -> None:
    off = make_sandbox(SandboxConfig(activate=ALL_OBJECTS, company_from_email=False))
    ada = off.ok(off.create("people", {"email_addresses": ["ada@acme.com"]}))
    assert values_of(ada, "company") == [] and off.ok(off.query("companies")) == []
    own = make_sandbox(SandboxConfig(free_mail_domains=frozenset({"Acme.com"})))
    assert values_of(own.ok(own.create("people", {"email_addresses": ["ada@acme.com"]})), "company") == []
    gmail = own.ok(own.create("people", {"email_addresses": ["ada@gmail.com"]}))
    assert only(own.ok(own.query("companies"))[0], "domains")["domain"] == "gmail.com" and linked(gmail, "company")


def test_a_company_that_needs_more_than_a_domain_leaves_the_person_unlinked(make_sandbox) -> None:
    config = SandboxConfig()
    seed = {"attributes": [{"object": "companies", "api_slug": "account_code", "type": "text", "is_required": True}]}
    harness = make_sandbox(config, from_schema_dict(seed, config))
    ada = harness.ok(harness.create("people", {"email_addresses": ["ada@acme.com"]}))
    assert values_of(ada, "company") == [] and harness.ok(harness.query("companies")) == []


def test_the_seed_key_and_the_command_line_flag(tmp_path: Path) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text('[workspace]\ncompany_from_email = false\nfree_mail_domains = ["mail.example.org"]\n')
    from_seed = build_app(SandboxConfig(), seed=seed)
    assert not from_seed.config.company_from_email
    assert from_seed.config.free_mail_domains == frozenset({"mail.example.org"})
    assert build_app(SandboxConfig(), seed=seed, company_from_email=True).config.company_from_email
    assert not build_app(SandboxConfig(), company_from_email=False).config.company_from_email
    assert build_app(SandboxConfig()).config.company_from_email  # on by default, like Attio
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"workspace": {"company_from_email": "no"}}))
    with pytest.raises(SeedError, match="company_from_email"):
        build_app(SandboxConfig(), seed=bad)
    help_text = CliRunner().invoke(sandbox, ["--help"]).output
    assert "--no-company-from-email" in help_text


def test_the_command_line_flag_reaches_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr("toolkit.sandbox.command._serve", lambda app, port: served.append(app))
    assert CliRunner().invoke(sandbox, ["--no-company-from-email"]).exit_code == 0
    assert CliRunner().invoke(sandbox, []).exit_code == 0
    assert [app.config.company_from_email for app in served] == [False, True]


# -- record references, as the linking guide has them ---------------------------------------------


@pytest.fixture
def two_acmes(make_sandbox) -> Harness:
    """Companies acme.com and acme.io, both named "Acme", and globex.com named "Globex"."""
    harness = make_sandbox()
    for domain, name in (("acme.com", "Acme"), ("acme.io", "Acme"), ("globex.com", "Globex")):
        harness.ok(harness.create("companies", {"domains": [domain], "name": name}))
    return harness


def _company(harness: Harness, value: Any) -> Any:
    return harness.create("people", {"company": value})


def test_a_non_unique_matching_attribute_works_when_exactly_one_record_matches(two_acmes: Harness) -> None:
    globex = next(r for r in two_acmes.ok(two_acmes.query("companies")) if only(r, "name")["value"] == "Globex")
    one = two_acmes.ok(_company(two_acmes, {"target_object": "companies", "name": [{"value": "Globex"}]}))
    assert linked(one, "company") == [rid(globex)]
    several = _company(two_acmes, {"target_object": "companies", "name": [{"value": "Acme"}]})
    assert (several.status_code, several.json()["code"]) == (400, "multiple_match_results")
    none = _company(two_acmes, {"target_object": "companies", "name": ["Initech"]})
    assert (none.status_code, none.json()["code"]) == (400, "value_not_found")


def test_the_openapi_reading_requires_a_unique_matching_attribute(make_sandbox) -> None:
    spec = make_sandbox(SandboxConfig(reference_match_requires_unique=True, target_record_reference=False))
    spec.ok(spec.create("companies", {"domains": ["globex.com"], "name": "Globex"}))
    by_name = spec.create("people", {"company": {"target_object": "companies", "name": [{"value": "Globex"}]}})
    assert (by_name.status_code, by_name.json()["code"]) == (400, "validation_type")
    assert spec.ok(spec.create("people", {"company": {"target_object": "companies", "domains": ["globex.com"]}}))


@pytest.mark.parametrize("match", [{"domains": "globex.com"}, {"domains": ["globex.com"]},
                                   {"domains": [{"domain": "https://globex.com/about"}]}, {"name": "Globex"}])
def test_target_record_reference_matches_one_record(two_acmes: Harness, match: dict[str, Any]) -> None:
    record = two_acmes.ok(_company(two_acmes, {"target_object": "companies", "target_record_reference":
                                               {"match": match}}))  # fmt: skip
    (value,) = values_of(record, "company")
    # Write-only: the answer carries the resolved record, never the form it was written in.
    assert set(value) - {"active_from", "active_until", "created_by_actor"} == {
        "target_object", "target_record_id", "attribute_type"}
    globex = two_acmes.ok(two_acmes.get("companies", value["target_record_id"]))
    assert only(globex, "name")["value"] == "Globex"


@pytest.mark.parametrize(("ref", "code", "said"), [
    ({"match": {"domains": "acme.com", "name": "Acme"}}, "validation_type", "exactly one attribute"),
    ({"match": {"domains": ["acme.com", "acme.io"]}}, "validation_type", "exactly one value"),
    ({"match": {}}, "validation_type", "exactly one attribute"),
    ({}, "validation_type", "Required"),
    ("acme.com", "validation_type", "Expected object"),
    ({"match": {"domainz": "acme.com"}}, "value_not_found", 'on object "companies" to match'),
    ({"match": {"name": "Acme"}}, "multiple_match_results", "Multiple records"),
    ({"match": {"domains": "initech.com"}}, "value_not_found", "No record"),
    ({"match": {"domains": "acme.com"}, "if_multiple_matches": "x"}, "validation_type", "reference_options"),
])  # fmt: skip
def test_target_record_reference_refusals(two_acmes: Harness, ref: Any, code: str, said: str) -> None:
    response = _company(two_acmes, {"target_object": "companies", "target_record_reference": ref})
    body = response.json()
    assert (response.status_code, body["code"]) == (400, code)
    assert said in json.dumps(body, ensure_ascii=False).replace('\\"', '"')
    assert "target_record_reference\"." not in body["message"]  # never "Cannot find attribute ... reference"


def test_without_target_record_reference_the_refusal_names_the_form_not_an_attribute(make_sandbox) -> None:
    """The old answer was 'Cannot find attribute with slug/ID "target_record_reference"': as if the
    person had no such attribute. The form is what is unknown, and the answer says so."""
    old = make_sandbox(SandboxConfig(target_record_reference=False))
    response = old.create("people", {"company": {"target_object": "companies",
                                                 "target_record_reference": {"match": {"domains": "acme.com"}}}})
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "validation_type")
    assert body["message"] == 'An invalid value was passed to attribute with slug "company".'
    (item,) = body["validation_errors"]
    assert item["path"] == ["target_record_reference"] and "Cannot find attribute" not in item["message"]


OPTIONS = {"if_multiple_matches": {"use_oldest": "first", "fail": "error"}, "if_no_match": {"create": "create"}}


def test_configured_options_take_the_oldest_match_or_create_the_record(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(activate=ALL_OBJECTS, reference_options=OPTIONS))
    first = harness.ok(harness.create("companies", {"domains": ["acme.com"], "name": "Acme"}))
    harness.ok(harness.create("companies", {"domains": ["acme.io"], "name": "Acme"}))
    oldest = harness.ok(harness.create("people", {"company": {"target_object": "companies", "target_record_reference": {
        "match": {"name": "Acme"}, "if_multiple_matches": "use_oldest"}}}))
    assert linked(oldest, "company") == [rid(first)]
    failing = harness.create("people", {"company": {"target_object": "companies", "target_record_reference": {
        "match": {"name": "Acme"}, "if_multiple_matches": "fail"}}})
    assert failing.json()["code"] == "multiple_match_results"
    made = harness.ok(harness.create("companies", {"team": [
        {"target_object": "people", "target_record_reference": {"match": {"email_addresses": "Zoe@Initech.com"},
                                                                 "if_no_match": "create"}},
        {"target_object": "people", "target_record_reference": {"match": {"email_addresses": ["zoe@initech.com"]},
                                                                 "if_no_match": "create"}}]}))  # fmt: skip
    (zoe_id,) = linked(made, "team")  # one person made for the one address, linked both ways
    zoe = harness.ok(harness.get("people", zoe_id))
    assert only(zoe, "email_addresses")["original_email_address"] == "Zoe@Initech.com"
    assert linked(zoe, "company") == [rid(made)]
    bad = harness.create("people", {"company": {"target_object": "companies", "target_record_reference": {
        "match": {"name": "Acme"}, "if_multiple_matches": "sometimes"}}})
    assert bad.json()["validation_errors"][0]["code"] == "invalid_enum_value"


def test_a_refused_write_creates_no_referenced_record(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(activate=ALL_OBJECTS, reference_options=OPTIONS))
    harness.ok(harness.create("people", {"email_addresses": ["taken@hooli.com"]}))
    before = len(harness.ok(harness.query("companies")))
    refused = harness.create("people", {"email_addresses": ["taken@hooli.com"], "company": {
        "target_object": "companies", "target_record_reference": {"match": {"domains": "piedpiper.com"},
                                                                  "if_no_match": "create"}}})  # fmt: skip
    assert refused.json()["code"] == "uniqueness_conflict"
    assert len(harness.ok(harness.query("companies"))) == before
    needs = make_sandbox(SandboxConfig(activate=ALL_OBJECTS, reference_options=OPTIONS))
    deal = needs.create("people", {"associated_deals": [{"target_object": "deals", "target_record_reference": {
        "match": {"name": "Big deal"}, "if_no_match": "create"}}]})  # a deal needs a stage and an owner
    assert deal.json()["code"] == "missing_value" and needs.ok(needs.query("deals")) == []


def test_reference_options_must_name_known_outcomes() -> None:
    with pytest.raises(ValueError, match="outcomes"):
        SandboxConfig(reference_options={"if_no_match": {"create": "maybe"}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="match"):
        SandboxConfig(reference_options={"match": {"x": "first"}})


# -- location strings -----------------------------------------------------------------------------

#: (written, the parts expected; the other keys are null). Order and punctuation vary on purpose.
LOCATIONS: list[tuple[str, dict[str, str]]] = [
    ("1 Infinite Loop, Cupertino, CA, 95014, US",
     {"line_1": "1 Infinite Loop", "locality": "Cupertino", "region": "CA", "postcode": "95014", "country_code": "US"}),
    ("Cupertino, CA 95014, USA", {"locality": "Cupertino", "region": "CA", "postcode": "95014", "country_code": "US"}),
    ("1 Infinite Loop\nCupertino CA 95014\nUnited States",
     {"line_1": "1 Infinite Loop", "locality": "Cupertino", "region": "CA", "postcode": "95014", "country_code": "US"}),
    ("USA; 95014; CA; Cupertino", {"locality": "Cupertino", "region": "CA", "postcode": "95014", "country_code": "US"}),
    ("Springfield, IL 62701", {"locality": "Springfield", "region": "IL", "postcode": "62701", "country_code": "US"}),
    ("Suite 400, 1 Main Street, Boston, MA 02110-1234, United States of America",
     {"line_1": "Suite 400", "line_2": "1 Main Street", "locality": "Boston", "region": "MA",
      "postcode": "02110-1234", "country_code": "US"}),
    ("Washington, DC", {"locality": "Washington", "region": "DC", "country_code": "US"}),
    ("Paris, TX", {"locality": "Paris", "region": "TX", "country_code": "US"}),
    ("10 Downing Street, London SW1A 2AA, United Kingdom",
     {"line_1": "10 Downing Street", "locality": "London", "postcode": "SW1A 2AA", "country_code": "GB"}),
    ("SW1A 2AA", {"postcode": "SW1A 2AA", "country_code": "GB"}),
    ("75008 Paris, France", {"locality": "Paris", "postcode": "75008", "country_code": "FR"}),
    ("1 Main St, Paris, IDF, 75001, FR",
     {"line_1": "1 Main St", "locality": "Paris", "region": "IDF", "postcode": "75001", "country_code": "FR"}),
    ("Hauptstraße 5, 10115 Berlin, Deutschland",
     {"line_1": "Hauptstraße 5", "locality": "Berlin", "postcode": "10115", "country_code": "DE"}),
    ("Berlin, DE", {"locality": "Berlin", "country_code": "DE"}),
    ("Toronto, ON M5V 3L9, Canada",
     {"locality": "Toronto", "region": "ON", "postcode": "M5V 3L9", "country_code": "CA"}),
    ("Toronto, ON, CA", {"locality": "Toronto", "region": "ON", "country_code": "CA"}),
    ("Cupertino, CA", {"locality": "Cupertino", "country_code": "CA"}),  # alone, CA is Canada: no ZIP says not
    ("Amsterdam, 1012 AB, Netherlands", {"locality": "Amsterdam", "postcode": "1012 AB", "country_code": "NL"}),
    ("Sydney NSW 2000, Australia", {"locality": "Sydney", "region": "NSW", "postcode": "2000", "country_code": "AU"}),
    ("Tokyo 100-0001, Japan", {"locality": "Tokyo", "postcode": "100-0001", "country_code": "JP"}),
    ("São Paulo, Brasil", {"locality": "São Paulo", "country_code": "BR"}),
    ("London", {"locality": "London"}),
    ("1 Main Street", {"line_1": "1 Main Street"}),
]  # fmt: skip


@pytest.mark.parametrize(("written", "expected"), LOCATIONS, ids=[w for w, _ in LOCATIONS])
def test_location_strings_are_parsed_by_what_their_parts_are(sandbox: Harness, written: str,
                                                             expected: dict[str, str]) -> None:
    stored = only(sandbox.ok(sandbox.create("people", {"primary_location": written})), "primary_location")
    keys = ("line_1", "line_2", "line_3", "line_4", "locality", "region", "postcode", "country_code", "latitude",
            "longitude")
    assert {k: stored[k] for k in keys} == {k: expected.get(k) for k in keys}


@pytest.mark.parametrize("written", ["", "   ", ",,,", " - ; . "])
def test_a_location_string_without_letters_or_digits_is_refused(sandbox: Harness, written: str) -> None:
    response = sandbox.create("people", {"primary_location": written})
    assert (response.status_code, response.json()["code"]) == (400, "validation_type")


# -- one rule where the sources are silent ---------------------------------------------------------


def test_more_than_four_decimals_and_suspended_members_are_refused_unless_configured(make_sandbox) -> None:
    seed = {"members": [{"email_address": "gone@example.com", "access_level": "suspended"}],
            "attributes": [{"object": "people", "api_slug": "score", "type": "number"},
                           {"object": "people", "api_slug": "owner", "type": "actor-reference"},
                           {"object": "people", "api_slug": "spend", "type": "currency"}]}
    strict = make_sandbox(SandboxConfig(), from_schema_dict(seed))
    for values in ({"score": 1.23456}, {"spend": 0.00001}, {"owner": "gone@example.com"}):
        response = strict.create("people", values)
        assert response.status_code == 400, values
    assert strict.ok(strict.create("people", {"score": 1.2345, "spend": 9.9999}))
    config = SandboxConfig(strict_precision=False, refuse_suspended_members=False)
    lenient = make_sandbox(config, from_schema_dict(seed, config))
    record = lenient.ok(lenient.create("people", {"score": 1.23456, "spend": 0.00006, "owner": "gone@example.com"}))
    assert only(record, "score")["value"] == 1.2346 and only(record, "spend")["currency_value"] == 0.0001


# -- emails keep their casing ---------------------------------------------------------------------


def test_emails_keep_their_casing_and_match_without_it(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(activate=ALL_OBJECTS, company_from_email=False))
    ada = harness.ok(harness.create("people", {"email_addresses": ["Ada.Lovelace@Example.COM"]}))
    stored = only(ada, "email_addresses")
    assert stored["original_email_address"] == "Ada.Lovelace@Example.COM"
    assert stored["email_address"] == "ada.lovelace@example.com" and stored["email_domain"] == "example.com"
    again = harness.ok(harness.assert_("people", "email_addresses", {"email_addresses": ["ADA.LOVELACE@example.com"]}))
    assert rid(again) == rid(ada) and len(values_of(again, "email_addresses")) == 1
    found = harness.ok(harness.query("people", filter={"email_addresses": "ada.lovelace@EXAMPLE.com"}))
    assert [rid(r) for r in found] == [rid(ada)]
    clash = harness.create("people", {"email_addresses": ["ada.lovelace@example.com"]})
    assert clash.json()["code"] == "uniqueness_conflict"
    user = harness.ok(harness.create("users", {"user_id": "u1", "primary_email_address": "Ada@Example.com",
                                               "person": "ADA.LOVELACE@EXAMPLE.COM"}))  # fmt: skip
    assert linked(user, "person") == [rid(ada)]
