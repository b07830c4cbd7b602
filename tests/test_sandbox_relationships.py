"""Relationship sync under any sequence of writes: both ends always agree (api-notes 4.2, 7.9).

Hypothesis drives random PATCH/PUT/assert/DELETE sequences over people.company <-> companies.team
and users.workspace <-> workspaces.users; after each sequence, every link is seen from both ends
and single-valued ends hold at most one value.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.sandbox import ApiProblem, SandboxApp, SandboxConfig, create_app

PEOPLE = [f"p{i}@acme.com" for i in range(4)]
DOMAINS = [f"c{i}.com" for i in range(3)]
USERS = [f"u{i}" for i in range(3)]
WORKSPACES = [f"w{i}" for i in range(3)]

person_company = st.tuples(st.just("person.company"), st.sampled_from(PEOPLE), st.sampled_from([None, *DOMAINS]),
                           st.sampled_from(["patch", "put", "assert"]))  # fmt: skip
company_team = st.tuples(st.just("company.team"), st.sampled_from(DOMAINS),
                         st.lists(st.sampled_from(PEOPLE), max_size=3), st.sampled_from(["patch", "put", "assert"]))
user_workspace = st.tuples(st.just("user.workspace"), st.sampled_from(USERS),
                           st.lists(st.sampled_from(WORKSPACES), max_size=3),
                           st.sampled_from(["patch", "put", "assert"]))
workspace_users = st.tuples(st.just("workspace.users"), st.sampled_from(WORKSPACES),
                            st.lists(st.sampled_from(USERS), max_size=3), st.sampled_from(["patch", "put", "assert"]))
delete = st.tuples(st.just("delete"), st.sampled_from(["people", "companies", "users", "workspaces"]),
                   st.integers(0, 3), st.just(""))  # fmt: skip
OPERATIONS = st.lists(st.one_of(person_company, company_team, user_workspace, workspace_users, delete), max_size=12)

MATCHING = {"people": ("email_addresses", True), "companies": ("domains", True), "users": ("user_id", False),
            "workspaces": ("workspace_id", False)}  # fmt: skip


def _fresh() -> SandboxApp:
    app = create_app(SandboxConfig.unlimited(activate={"users", "workspaces"}))
    for email in PEOPLE:
        app.add_record("people", {"email_addresses": [email]})
    for domain in DOMAINS:
        app.add_record("companies", {"domains": [domain]})
    for n, user in enumerate(USERS):
        app.add_record("users", {"user_id": user, "primary_email_address": f"user{n}@acme.com"})
    for workspace in WORKSPACES:
        app.add_record("workspaces", {"workspace_id": workspace})
    return app


def _record_id(app: SandboxApp, obj: str, key: str) -> str | None:
    target = app.catalog.object(obj)
    assert target is not None
    slug, _ = MATCHING[obj]
    attr = app.catalog.attribute(target, slug)
    assert attr is not None
    found = app.store.records_matching(attr, key)
    return found[0] if found else None


def _write(app: SandboxApp, obj: str, key: str, values: dict[str, Any], how: str) -> None:
    from toolkit.sandbox.coercion import coerce_values

    target = app.catalog.object(obj)
    assert target is not None
    slug, multi = MATCHING[obj]
    record_id = _record_id(app, obj, key)
    try:
        if how == "assert" or record_id is None:
            matching = app.catalog.attribute(target, slug)
            assert matching is not None
            coerced = coerce_values(app.catalog, app.config, app.store, target,
                                    {slug: [key] if multi else key, **values})
            if obj == "users" and record_id is None:
                return  # a new user would need its required email; skip
            app.store.assert_record(target, matching, coerced)
        else:
            coerced = coerce_values(app.catalog, app.config, app.store, target, values)
            app.store.update(target, record_id, coerced, "prepend" if how == "patch" else "overwrite")
    except ApiProblem as problem:
        assert problem.code in ("value_not_found",), problem.body()  # a reference to a deleted record


def _check(app: SandboxApp, left: tuple[str, str], right: tuple[str, str]) -> None:
    (lo, la), (ro, ra) = left, right
    lobj, robj = app.catalog.object(lo), app.catalog.object(ro)
    assert lobj is not None and robj is not None
    lattr, rattr = app.catalog.attribute(lobj, la), app.catalog.attribute(robj, ra)
    assert lattr is not None and rattr is not None
    seen_left = {(r.record_id, v["target_record_id"]) for r in app.store.all(lobj)
                 for v in r.values.get(lattr.attribute_id, [])}  # fmt: skip
    seen_right = {(v["target_record_id"], r.record_id) for r in app.store.all(robj)
                  for v in r.values.get(rattr.attribute_id, [])}  # fmt: skip
    assert seen_left == seen_right
    for attr, obj in ((lattr, lobj), (rattr, robj)):
        for record in app.store.all(obj):
            values = record.values.get(attr.attribute_id, [])
            assert attr.is_multiselect or len(values) <= 1
            targets = [v["target_record_id"] for v in values]
            assert len(targets) == len(set(targets))
            other = app.catalog.inverse(attr)
            assert other is not None
            assert all(app.store.record_exists(other.object_id, t) for t in targets)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_both_ends_always_agree(operations: list[tuple[str, Any, Any, str]]) -> None:
    app = _fresh()
    for kind, key, value, how in operations:
        if kind == "person.company":
            _write(app, "people", key, {"company": value}, how)
        elif kind == "company.team":
            _write(app, "companies", key, {"team": [{"target_object": "people", "email_addresses": [e]}
                                                    for e in value]}, how)  # fmt: skip
        elif kind == "user.workspace":
            _write(app, "users", key, {"workspace": value}, how)
        elif kind == "workspace.users":
            _write(app, "workspaces", key, {"users": value}, how)
        else:
            obj = app.catalog.object(key)
            assert obj is not None
            records = list(app.store.all(obj))
            if records:
                app.store.delete(obj, records[value % len(records)].record_id)
    _check(app, ("people", "company"), ("companies", "team"))
    _check(app, ("users", "workspace"), ("workspaces", "users"))
