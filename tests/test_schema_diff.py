from __future__ import annotations

from attio_data import attribute_json, option_json, status_json, workspace

from toolkit.schema import WorkspaceSchema
from toolkit.schema_diff import Change, diff_schemas


def build(data: dict) -> WorkspaceSchema:  # type: ignore[type-arg]
    return WorkspaceSchema.from_api(
        self_body=data["self"], objects=data["objects"], attributes=data["attributes"],
        options=[o for listed in data["options"].values() for o in listed],
        statuses=[s for listed in data["statuses"].values() for s in listed], members=data["members"])


def test_identical_schemas_have_no_changes() -> None:
    assert diff_schemas(build(workspace()), build(workspace())) == []


def test_every_kind_of_change_is_listed() -> None:
    old = workspace(workspaces=False)
    new = workspace(workspaces=True)
    people = new["attributes"]["people"]
    people[:] = [a for a in people if a["api_slug"] != "twitter"]  # removed
    people.append(attribute_json("people", "nps", "rating", system=False))  # added
    next(a for a in people if a["api_slug"] == "plan")["type"] = "text"  # retyped
    next(a for a in people if a["api_slug"] == "phone_numbers")["is_archived"] = True  # archived
    next(a for a in people if a["api_slug"] == "legacy_score")["is_archived"] = False  # restored
    next(a for a in new["attributes"]["users"] if a["api_slug"] == "person")["is_required"] = True
    new["options"]["people.plan"] = [option_json("people", "plan", "Free"),
                                     option_json("people", "plan", "Pro", archived=True),
                                     option_json("people", "plan", "Startup"),
                                     option_json("people", "plan", "Legacy", archived=True)]
    new["statuses"]["deals.stage"].append(status_json("deals", "stage", "Churned"))

    changes = diff_schemas(build(old), build(new))
    assert Change("object activated", "workspaces") in changes
    assert Change("attribute removed", "people.twitter", "text") in changes
    assert Change("attribute added", "people.nps", "rating") in changes
    assert Change("attribute retyped", "people.plan", "select -> text") in changes
    assert Change("attribute archived", "people.phone_numbers") in changes
    assert Change("attribute restored", "people.legacy_score") in changes
    assert Change("attribute changed", "users.person", "is_required: False -> True") in changes
    assert Change("option archived", "people.plan: Pro") in changes
    assert Change("option added", "people.plan: Startup") in changes
    assert Change("option removed", "people.plan: Enterprise") in changes
    assert Change("status added", "deals.stage: Churned") in changes
    assert changes[0].kind == "object activated"
    assert Change("object deactivated", "workspaces") in diff_schemas(build(new), build(old))
