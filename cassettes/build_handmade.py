"""Write the hand-built cassettes: Attio's real responses, as quoted in api-notes.

Attio cannot be reached from where attio-sync is developed, so these cassettes are built
from the live responses that `../shared/attio/api-notes.md` quotes (sections 1.3, 1.5, 2.2,
3.2, 3.4, 5.1, 6.1, 6.2), keeping every key and quirk of the originals:

- `GET /v2/objects` lists users, people, deals, companies in that order, without workspaces
  (the 2025-07 live capture of a workspace where Workspaces was not activated);
- attribute `relationship` holds only `{"id": ...}`, as older live responses do;
- timestamps have nine fractional digits; `x-attio-execution-id` is on every answer;
- `GET /v2/self` is not wrapped in `data`;
- the 429 carries `Retry-After` as an HTTP date, the 400 a zod-style `validation_errors`.

Run `python cassettes/build_handmade.py` to rewrite them; the tests replay them with vcrpy
in `record_mode="none"`. No request in them carries an Authorization header.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
BASE = "https://api.attio.com"
WS = "a96c9c20-442b-43cd-a94b-3d4683051661"
PEOPLE = "445e7c02-0068-4b3c-8937-aebbf7530920"
TOKEN_ACTOR = "4c9b8eb9-4b5d-4b27-a37c-6a9ff08bd3ee"


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "attio-handmade/" + name))


OBJECT_IDS = {"people": PEOPLE, "users": uid("users"), "deals": uid("deals"), "companies": uid("companies")}


def obj(slug: str, singular: str, plural: str) -> dict[str, Any]:
    return {"id": {"workspace_id": WS, "object_id": OBJECT_IDS[slug]}, "api_slug": slug,
            "singular_noun": singular, "plural_noun": plural, "created_at": "2025-07-18T13:49:44.655000000Z"}


def attr(object_slug: str, slug: str, title: str, type_: str, *, multi: bool = False, unique: bool = False,
         required: bool = False, writable: bool = True, system: bool = True, allowed: str | None = None,
         inverse: str | None = None, attribute_id: str | None = None) -> dict[str, Any]:
    """An attribute exactly like api-notes 3.2's live `email_addresses` example."""
    return {
        "id": {"workspace_id": WS, "object_id": OBJECT_IDS[object_slug],
               "attribute_id": attribute_id or uid(f"{object_slug}.{slug}")},
        "title": title, "description": None, "api_slug": slug, "type": type_,
        "is_system_attribute": system, "is_writable": writable, "is_required": required, "is_unique": unique,
        "is_multiselect": multi, "is_default_value_enabled": False, "is_archived": False, "default_value": None,
        "relationship": None if inverse is None else {"id": {"workspace_id": WS, "object_id": OBJECT_IDS[inverse.split(".")[0]],
                                                             "attribute_id": uid(inverse)}},
        "created_at": "2025-07-18T13:49:44.710000000Z",
        "config": {"currency": {"default_currency_code": None, "display_type": None},
                   "record_reference": {"allowed_object_ids": [OBJECT_IDS[allowed]] if allowed else None}},
    }


ATTRIBUTES = {
    "users": [
        attr("users", "user_id", "User ID", "text", unique=True, required=True),
        attr("users", "primary_email_address", "Primary email address", "email-address", unique=True, required=True),
        attr("users", "person", "Person", "record-reference", allowed="people", inverse="people.associated_users"),
    ],
    "people": [
        attr("people", "record_id", "Record ID", "text", unique=True, writable=False),
        attr("people", "email_addresses", "Email addresses", "email-address", multi=True, unique=True,
             attribute_id="34ff8623-0f5b-4b27-9b4a-2c0f6e3d2a11"),
        attr("people", "name", "Name", "personal-name"),
        attr("people", "company", "Company", "record-reference", allowed="companies", inverse="companies.team"),
        attr("people", "phone_numbers", "Phone numbers", "phone-number", multi=True),
        attr("people", "avatar_url", "Avatar URL", "text", writable=False),
        attr("people", "associated_users", "Associated users", "record-reference", multi=True, allowed="users",
             inverse="users.person"),
        attr("people", "created_at", "Created at", "timestamp", writable=False),
    ],
    "deals": [
        attr("deals", "name", "Deal name", "text", required=True),
        attr("deals", "stage", "Deal stage", "status", required=True),
        attr("deals", "owner", "Deal owner", "actor-reference", required=True),
    ],
    "companies": [
        attr("companies", "domains", "Domains", "domain", multi=True, unique=True),
        attr("companies", "name", "Name", "text"),
        attr("companies", "team", "Team", "record-reference", multi=True, allowed="people", inverse="people.company"),
        attr("companies", "categories", "Categories", "select", multi=True),
    ],
}


def option(object_slug: str, attribute: str, title: str) -> dict[str, Any]:
    return {"id": {"workspace_id": WS, "object_id": OBJECT_IDS[object_slug], "attribute_id": uid(f"{object_slug}.{attribute}"),
                   "option_id": uid(f"{object_slug}.{attribute}/{title}")}, "title": title, "is_archived": False}


def status(title: str, celebrate: bool = False) -> dict[str, Any]:
    return {"id": {"workspace_id": WS, "object_id": OBJECT_IDS["deals"], "attribute_id": uid("deals.stage"),
                   "status_id": uid(f"deals.stage/{title}")}, "title": title, "is_archived": False,
            "celebration_enabled": celebrate, "target_time_in_status": None}


SELF = {"active": True, "scope": "record_permission:read-write object_configuration:read user_management:read",
        "client_id": uid("client"), "token_type": "Bearer", "exp": None, "iat": 1704067200, "sub": WS, "aud": uid("client"),
        "iss": "attio.com", "authorized_by_workspace_member_id": "1757c0bb-f8e6-4013-b41d-2e49a3ef2c6f",
        "workspace_id": WS, "workspace_name": "R and K Tech LLC", "workspace_slug": "r-and-k-tech-llc",
        "workspace_logo_url": None}

MEMBER = {"id": {"workspace_id": WS, "workspace_member_id": "1757c0bb-f8e6-4013-b41d-2e49a3ef2c6f"},
          "first_name": "Robert", "last_name": "Beene", "avatar_url": None,
          "email_address": "robert@example.com", "access_level": "admin", "created_at": "2025-07-18T13:49:47.914000000Z"}

RECORD_ID = "a9ccd85f-921f-49c1-8b0a-80b2ae723056"


def envelope(type_: str, **value: Any) -> dict[str, Any]:
    return {"active_from": "2025-07-27T01:45:27.220000000Z", "active_until": None,
            "created_by_actor": {"type": "api-token", "id": TOKEN_ACTOR}, **value, "attribute_type": type_}


PERSON = {
    "id": {"workspace_id": WS, "object_id": PEOPLE, "record_id": RECORD_ID},
    "created_at": "2025-07-27T01:45:27.220000000Z",
    "web_url": f"https://app.attio.com/r-and-k-tech-llc/person/{RECORD_ID}",
    "values": {
        "record_id": [envelope("text", value=RECORD_ID)],
        "name": [envelope("personal-name", first_name="Test", last_name="PersonVCR", full_name="Test PersonVCR")],
        "email_addresses": [envelope("email-address", original_email_address="Test.PersonVCR@example.com",
                                     email_address="test.personvcr@example.com", email_domain="example.com",
                                     email_root_domain="example.com", email_local_specifier="test.personvcr")],
        "description": [], "company": [], "job_title": [], "phone_numbers": [], "primary_location": [],
        "created_at": [envelope("timestamp", value="2025-07-27T01:45:27.405000000Z")],
    },
}


def exchange(method: str, path: str, status_code: int, body: Any, *, request_body: Any = None,
             headers: dict[str, str] | None = None, execution: str) -> dict[str, Any]:
    response_headers = {"content-type": ["application/json; charset=utf-8"], "x-attio-execution-id": [execution],
                        "server": ["cloudflare"]}
    for name, value in (headers or {}).items():
        response_headers[name.lower()] = [value]
    return {
        "request": {"body": None if request_body is None else json.dumps(request_body),
                    "headers": {"accept": ["application/json"]}, "method": method, "uri": BASE + path},
        "response": {"status": {"code": status_code, "message": {200: "OK", 400: "Bad Request", 404: "Not Found",
                                                                  429: "Too Many Requests"}[status_code]},
                     "headers": response_headers, "body": {"string": json.dumps(body)}},
    }


def pull_cassette() -> list[dict[str, Any]]:
    steps = [
        exchange("GET", "/v2/self", 200, SELF, execution=uid("x/self")),
        exchange("GET", "/v2/objects", 200, {"data": [obj("users", "User", "Users"), obj("people", "Person", "People"),
                                                      obj("deals", "Deal", "Deals"), obj("companies", "Company", "Companies")]},
                 execution=uid("x/objects")),
        exchange("GET", "/v2/workspace_members", 200, {"data": [MEMBER]}, execution=uid("x/members")),
    ]
    for slug, listed in ATTRIBUTES.items():
        steps.append(exchange("GET", f"/v2/objects/{slug}/attributes?limit=500&offset=0&show_archived=true", 200,
                              {"data": listed}, execution=uid(f"x/{slug}")))
    steps.append(exchange("GET", "/v2/objects/companies/attributes/categories/options?show_archived=true", 200,
                          {"data": [option("companies", "categories", t) for t in ("B2B", "SaaS", "Enterprise")]},
                          execution=uid("x/options")))
    steps.append(exchange("GET", "/v2/objects/deals/attributes/stage/statuses?show_archived=true", 200,
                          {"data": [status("Lead"), status("In Progress"), status("Won 🎉", True), status("Lost")]},
                          execution=uid("x/statuses")))
    return steps


def assert_cassette() -> list[dict[str, Any]]:
    path = "/v2/objects/people/records?matching_attribute=email_addresses"
    values = {"email_addresses": [{"email_address": "Test.PersonVCR@example.com"}],
              "name": [{"first_name": "Test", "last_name": "PersonVCR", "full_name": "Test PersonVCR"}]}
    rate_limit = {"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                  "message": "Rate limit exceeded, please try again later"}
    invalid = {"status_code": 400, "type": "invalid_request_error", "code": "validation_type",
               "message": 'An invalid value was passed to attribute with slug "name".',
               "validation_errors": [
                   {"code": "invalid_type", "path": ["first_name"], "message": "Required", "expected": "string", "received": "undefined"},
                   {"code": "invalid_type", "path": ["last_name"], "message": "Required", "expected": "string", "received": "undefined"},
                   {"code": "invalid_type", "path": ["full_name"], "message": "Required", "expected": "string", "received": "undefined"}]}
    not_found = {"status_code": 404, "type": "invalid_request_error", "code": "not_found",
                 "message": 'Object with slug/ID "peopel" not found.'}
    return [
        exchange("PUT", path, 429, rate_limit, request_body={"data": {"values": values}},
                 headers={"Retry-After": "Tue, 23 May 2023 14:42:01 GMT"}, execution=uid("x/429")),
        exchange("PUT", path, 200, {"data": PERSON}, request_body={"data": {"values": values}}, execution=uid("x/assert")),
        exchange("PUT", path, 400, invalid, request_body={"data": {"values": {"email_addresses": ["a@example.com"],
                                                                              "name": [{"value": "Ada"}]}}},
                 execution=uid("x/400")),
        exchange("PUT", "/v2/objects/peopel/records?matching_attribute=email_addresses", 404, not_found,
                 request_body={"data": {"values": values}}, execution=uid("x/404")),
    ]


def write(name: str, interactions: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False, allow_unicode=True, width=120)
    (HERE / name).write_text("# Built by cassettes/build_handmade.py from the real responses in api-notes.\n" + text)


if __name__ == "__main__":
    write("attio_pull_real_shapes.yaml", pull_cassette())
    write("attio_assert_person_real_shapes.yaml", assert_cassette())
