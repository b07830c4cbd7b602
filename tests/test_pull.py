"""`pull_schema` against a fake Attio: what it fetches, how it stores it, how it fails."""

from __future__ import annotations

import time

import httpx
import pytest
from attio_data import attribute_json, option_json, workspace
from fake_attio import FakeAttio, attio_error

from toolkit.backoff import BackoffPolicy
from toolkit.cache import Cache
from toolkit.client import AttioClient
from toolkit.errors import AuthError, InvalidRequestError, TransportError
from toolkit.pull import pull_schema

KEY = "test-key"


def client(fake: FakeAttio, **kwargs: object) -> AttioClient:
    return AttioClient(KEY, base_url="https://api.attio.test", transport=fake.transport(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_pull_reads_everything_once_and_stores_it(fresh_cache: Cache) -> None:
    fake = FakeAttio(workspace())
    async with client(fake) as api:
        result = await pull_schema(api, fresh_cache)
    schema = fresh_cache.load_schema()
    assert schema == result.schema
    assert [o.api_slug for o in schema.objects] == ["people", "companies", "users", "workspaces", "deals"]
    # self + objects + members, 5 attribute lists, 2 select attributes' options, 1 status attribute.
    assert result.requests == len(fake.requests) == 11
    assert fake.count("/options") == 2 and fake.count("/statuses") == 1
    # Archived attributes and options are pulled too: check needs them to say "archived".
    assert schema.attribute("people", "legacy_score").is_archived
    assert "Legacy" in [o.title for o in schema.options_of(schema.attribute("people", "plan"))]
    assert schema.find_member("ROBERT@example.com") is not None
    assert result.attribute_counts()["people"] == 9  # 10 listed, one archived
    assert result.inactive_objects() == {}
    assert result.pull.snapshot_hash == schema.snapshot_hash()


@pytest.mark.anyio
async def test_objects_not_activated_are_reported_with_how_to_activate(fresh_cache: Cache) -> None:
    fake = FakeAttio(workspace(users=False, workspaces=False))
    async with client(fake) as api:
        result = await pull_schema(api, fresh_cache)
    inactive = result.inactive_objects()
    assert set(inactive) == {"users", "workspaces"}
    assert "Workspace settings > Objects" in inactive["users"]
    assert "identify-user" in inactive["users"] and "group-workspace" in inactive["workspaces"]


@pytest.mark.anyio
async def test_a_failed_pull_leaves_the_previous_snapshot(fresh_cache: Cache) -> None:
    fake = FakeAttio(workspace())
    async with client(fake) as api:
        await pull_schema(api, fresh_cache)
    before = fresh_cache.load_schema()

    changed = workspace(deals=False)
    failing = FakeAttio(changed, before=[lambda r: attio_error(400, "invalid_request_error", "validation_type", "nope")
                                         if r.url.path.endswith("/options") else None])
    async with client(failing) as api:
        with pytest.raises(InvalidRequestError):
            await pull_schema(api, fresh_cache)
    assert fresh_cache.load_schema() == before
    assert len(fresh_cache.pulls()) == 1


@pytest.mark.anyio
async def test_a_bad_key_fails_the_pull(fresh_cache: Cache) -> None:
    fake = FakeAttio(workspace(), token="another-key")
    async with client(fake) as api:
        with pytest.raises(AuthError) as caught:
            await pull_schema(api, fresh_cache)
    assert caught.value.status == 401


@pytest.mark.anyio
async def test_a_large_pull_stays_within_the_read_budget(fresh_cache: Cache) -> None:
    data = workspace()
    # 60 select attributes on people: 60 option requests on top of the 11 above.
    for i in range(60):
        data["attributes"]["people"].append(attribute_json("people", f"pick_{i}", "select", system=False))
        data["options"][f"people.pick_{i}"] = [option_json("people", f"pick_{i}", "A")]
    stamps: list[float] = []
    fake = FakeAttio(data, before=[lambda r: stamps.append(time.monotonic())])  # type: ignore[func-returns-value]
    async with client(fake, read_rate=30) as api:
        result = await pull_schema(api, fresh_cache)
    assert result.requests == 71
    stamps.sort()
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    assert busiest <= 30
    assert stamps[-1] - stamps[0] >= 2.0  # 71 requests at 30/s cannot finish in under 2 s


@pytest.mark.anyio
async def test_transport_failures_surface_as_transport_errors(fresh_cache: Cache) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    api = AttioClient(KEY, base_url="https://api.attio.test", transport=httpx.MockTransport(refuse),
                      policy=BackoffPolicy(max_attempts=1))
    async with api:
        with pytest.raises(TransportError):
            await pull_schema(api, fresh_cache)
    assert fresh_cache.pulls() == []
