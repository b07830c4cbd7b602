"""The sandbox's schema routes, auth and unknown endpoints, against api-notes 1.5-3.4 and 6."""

from __future__ import annotations

import base64

import pytest
from openapi_check import SPEC_PATH, ConformanceError, validate_response
from sandbox_fixtures import ADMIN_EMAIL, Harness

from toolkit.sandbox import SandboxConfig


def test_self_is_unwrapped_and_names_the_workspace(sandbox: Harness) -> None:
    body = sandbox.client.get("/v2/self").json()
    assert "data" not in body
    assert body["active"] is True
    assert body["workspace_slug"] == "sandbox"
    assert body["workspace_id"] == body["sub"]
    assert "record_permission:read-write" in body["scope"].split()


def test_every_answer_carries_attio_headers(sandbox: Harness) -> None:
    first = sandbox.client.get("/v2/objects")
    second = sandbox.client.get("/v2/nothing-here")
    for response in (first, second):
        assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert first.headers["x-attio-execution-id"] != second.headers["x-attio-execution-id"]


def test_objects_list_only_activated_ones(make_sandbox) -> None:
    plain = make_sandbox(SandboxConfig())
    slugs = [o["api_slug"] for o in plain.client.get("/v2/objects").json()["data"]]
    assert sorted(slugs) == ["companies", "people"]
    missing = plain.client.get("/v2/objects/users")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'Object with slug/ID "users" not found.'
    active = make_sandbox(SandboxConfig(activate={"users"}))
    assert active.client.get("/v2/objects/users").status_code == 200


def test_relationship_to_an_inactive_object_is_hidden(make_sandbox) -> None:
    plain = make_sandbox(SandboxConfig())
    slugs = {a["api_slug"] for a in plain.client.get("/v2/objects/people/attributes").json()["data"]}
    assert "company" in slugs
    assert "associated_users" not in slugs and "associated_deals" not in slugs


def test_object_by_id_and_slug_are_the_same(sandbox: Harness) -> None:
    by_slug = sandbox.client.get("/v2/objects/people").json()["data"]
    by_id = sandbox.client.get(f"/v2/objects/{by_slug['id']['object_id']}").json()["data"]
    assert by_slug == by_id
    assert by_slug["singular_noun"] == "Person"


def test_standard_ids_are_stable_between_sandboxes(make_sandbox) -> None:
    one = make_sandbox().client.get("/v2/objects/people/attributes").json()["data"]
    two = make_sandbox().client.get("/v2/objects/people/attributes").json()["data"]
    assert [a["id"] for a in one] == [a["id"] for a in two]


def test_attributes_page_with_limit_and_offset(sandbox: Harness) -> None:
    everything = sandbox.client.get("/v2/objects/people/attributes").json()["data"]
    page = sandbox.client.get("/v2/objects/people/attributes", params={"limit": 3, "offset": 2}).json()["data"]
    assert page == everything[2:5]
    assert everything[0]["api_slug"] == "record_id"
    email = next(a for a in everything if a["api_slug"] == "email_addresses")
    assert (email["is_unique"], email["is_multiselect"], email["type"]) == (True, True, "email-address")


def test_attribute_shape_of_a_relationship(sandbox: Harness) -> None:
    company = sandbox.client.get("/v2/objects/people/attributes/company").json()["data"]
    assert company["relationship"]["api_slug"] == "team"
    assert company["relationship"]["object_slug"] == "companies"
    companies_id = sandbox.client.get("/v2/objects/companies").json()["data"]["id"]["object_id"]
    assert company["config"]["record_reference"]["allowed_object_ids"] == [companies_id]


def test_archived_attributes_and_options_need_show_archived(make_sandbox) -> None:
    from toolkit.sandbox import from_schema_dict

    schema = from_schema_dict({
        "attributes": [{"object": "companies", "api_slug": "legacy_tier", "type": "select", "is_archived": True,
                        "options": ["Gold", {"title": "Tin", "is_archived": True}]}],
    })  # fmt: skip
    harness = make_sandbox(SandboxConfig(), schema)
    listed = {a["api_slug"] for a in harness.client.get("/v2/objects/companies/attributes").json()["data"]}
    assert "legacy_tier" not in listed
    shown = harness.client.get("/v2/objects/companies/attributes", params={"show_archived": "true"}).json()["data"]
    assert "legacy_tier" in {a["api_slug"] for a in shown}
    assert harness.client.get("/v2/objects/companies/attributes/legacy_tier").status_code == 200
    options = harness.client.get("/v2/objects/companies/attributes/legacy_tier/options").json()["data"]
    assert [o["title"] for o in options] == ["Gold"]
    options = harness.client.get("/v2/objects/companies/attributes/legacy_tier/options",
                                 params={"show_archived": "true"}).json()["data"]  # fmt: skip
    assert [o["title"] for o in options] == ["Gold", "Tin"]


def test_statuses_of_deal_stage(sandbox: Harness) -> None:
    statuses = sandbox.client.get("/v2/objects/deals/attributes/stage/statuses").json()["data"]
    assert [s["title"] for s in statuses] == ["Lead", "In Progress", "Won 🎉", "Lost"]
    wrong = sandbox.client.get("/v2/objects/deals/attributes/name/statuses")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "validation_type")


def test_unknown_attribute_is_404(sandbox: Harness) -> None:
    response = sandbox.client.get("/v2/objects/people/attributes/shoe_size")
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "type": "invalid_request_error", "code": "not_found",
                               "message": 'Attribute with slug/ID "shoe_size" not found.'}  # fmt: skip


def test_workspace_members(sandbox: Harness) -> None:
    members = sandbox.client.get("/v2/workspace_members").json()["data"]
    assert [m["email_address"] for m in members] == [ADMIN_EMAIL]
    one = sandbox.client.get(f"/v2/workspace_members/{members[0]['id']['workspace_member_id']}")
    assert one.json()["data"] == members[0]
    assert sandbox.client.get("/v2/workspace_members/00000000-0000-4000-8000-000000000000").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/objects/people/records"),  # there is no list endpoint (api-notes 5.5)
        ("GET", "/v2/lists"),
        ("POST", "/v2/self"),
        ("DELETE", "/v2/objects/people"),
        ("GET", "/v1/token"),
    ],
)
def test_unknown_endpoints_are_404(sandbox: Harness, method: str, path: str) -> None:
    response = sandbox.client.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "type": "invalid_request_error", "code": "not_found",
                               "message": f'Could not find endpoint "{method} {path}".'}  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox"}],
    ids=["missing", "wrong-token", "no-scheme"],
)
def test_missing_or_wrong_token_is_401(sandbox: Harness, headers: dict[str, str]) -> None:
    sandbox.client.headers.pop("Authorization")
    response = sandbox.client.get("/v2/objects", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert (body["type"], body["code"], body["status_code"]) == ("auth_error", "unauthorized", 401)


def test_basic_auth_with_the_token_as_user_is_accepted(sandbox: Harness) -> None:
    sandbox.client.headers.pop("Authorization")
    basic = base64.b64encode(f"{sandbox.app.config.token}:".encode()).decode()
    assert sandbox.client.get("/v2/objects", headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_conformance_check_can_fail(sandbox: Harness) -> None:
    """The OpenAPI check is not a rubber stamp: a body without `web_url` is refused."""
    record = sandbox.ok(sandbox.create("companies", {"name": "Acme"}))
    del record["web_url"]
    with pytest.raises(ConformanceError):
        validate_response("POST", "/v2/objects/companies/records", 200, {"data": record}, {"data": {"values": {}}})
    with pytest.raises(ConformanceError):
        validate_response("GET", "/v2/objects", 401, {"status_code": 401, "message": "no"})


def test_request_conformance_helper() -> None:
    """The helper the client's tests use: Attio's document allows array values, refuses extra keys."""
    from openapi_check import validate_request

    validate_request("PUT", "/v2/objects/people/records?matching_attribute=email_addresses",
                     {"data": {"values": {"email_addresses": ["ada@example.com"]}}})  # fmt: skip
    validate_request("POST", "/v2/objects/people/records/query", {"filter": {"name": "Ada"}, "limit": 10})
    with pytest.raises(ConformanceError):
        validate_request("PUT", "/v2/objects/people/records?matching_attribute=email_addresses",
                         {"data": {"values": {}, "extra": True}})  # fmt: skip
    with pytest.raises(ConformanceError):
        validate_request("PUT", "/v2/objects/people/records", {"data": {"values": {}}})  # no matching_attribute


def test_public_surface_is_sorted_and_importable() -> None:
    import toolkit.sandbox as sandbox_package

    assert sandbox_package.__all__ == sorted(sandbox_package.__all__)
    assert all(hasattr(sandbox_package, name) for name in sandbox_package.__all__)


def test_the_sandbox_never_imports_the_toolkits_value_validation() -> None:
    """A second opinion must not share code with the first (issue 3)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "toolkit" / "sandbox"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert "values" not in module or module == ".values", (path.name, module)
                assert not module.startswith("..") or module in ("..schema", "..errors", "..cache", "..config"), \
                    (path.name, module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("toolkit.") and "sandbox" not in a.name for a in node.names)


def test_a_lone_surrogate_in_a_body_is_refused_not_a_crash(make_sandbox) -> None:
    harness = make_sandbox()
    response = harness.client.post("/v2/objects/people/records",
                                   content=b'{"data":{"values":{"description":"a \\ud800"}}}',
                                   headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "validation_type"


def test_the_openapi_document_is_in_the_repository_with_its_provenance() -> None:
    """Conformance runs in every clone (issue 15): the document is a repository file, its header says
    where it came from and which version it is, and the body is the copy that header names."""
    import hashlib
    import itertools
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    assert SPEC_PATH.is_file() and SPEC_PATH.is_relative_to(repo / "tests" / "data")
    text = SPEC_PATH.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))
    body = text[len(header):]
    assert "https://api.attio.com/openapi/api" in header and "2.0.0" in header
    assert hashlib.sha256(body.encode("utf-8")).hexdigest() in header
    info = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["info"]  # noqa: S506 - safe
    assert (info["title"], info["version"]) == ("Attio API", "2.0.0")
