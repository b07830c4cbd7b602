"""Rate limits, injected faults, the request log, and the ways to reach the sandbox (in-process
async and sync transports, uvicorn over loopback)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from sandbox_fixtures import Harness

from toolkit.sandbox import (
    FaultSpec,
    SandboxApp,
    SandboxConfig,
    SandboxTransport,
    create_app,
    serve_in_thread,
)

RATE_BODY = {"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
             "message": "Rate limit exceeded, please try again later"}  # fmt: skip


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_write_budget_per_clock_second_with_retry_after_date(make_sandbox) -> None:
    clock = FakeClock(1_800_000_000.25)
    harness = make_sandbox(app=SandboxApp(SandboxConfig(read_rate=3, write_rate=2), rate_clock=clock))
    statuses = [harness.create("people", {}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = harness.create("people", {})
    assert refused.json() == RATE_BODY
    retry_at = parsedate_to_datetime(refused.headers["retry-after"])
    assert retry_at == datetime.fromtimestamp(1_800_000_001, UTC)
    assert refused.headers["retry-after"].endswith(" GMT")
    # Reads have their own budget, and a query is a read.
    assert [harness.query("people").status_code for _ in range(3)] == [200, 200, 200]
    assert harness.client.get("/v2/objects").status_code == 429
    clock.now += 1
    assert harness.create("people", {}).status_code == 200
    assert len(harness.ok(harness.query("people"))) == 3  # the refused writes stored nothing


def test_attio_limits_by_default() -> None:
    assert (SandboxConfig().read_rate, SandboxConfig().write_rate) == (100, 25)
    assert (SandboxConfig.unlimited().read_rate, SandboxConfig.unlimited().write_rate) == (None, None)


def test_limits_can_be_off(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig.unlimited())
    assert all(harness.client.get("/v2/objects").status_code == 200 for _ in range(150))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", FaultSpec()),
        ("500=0.1", FaultSpec(rate_500=0.1)),
        ("429=0.2,500=0.05,503=0.05,drop_before=0.02,drop_after=0.03,slow=0.1:0.25",
         FaultSpec(0.2, 0.05, 0.05, 0.02, 0.03, 0.1, 0.25)),
    ],
)
def test_fault_spec_parses(text: str, expected: FaultSpec) -> None:
    assert FaultSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["teapot=0.1", "500=2", "500", "429=0.6,500=0.6"])
def test_fault_spec_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        FaultSpec.parse(text)


def _statuses(seed: int) -> list[int]:
    config = SandboxConfig(faults=FaultSpec.parse("429=0.2,500=0.2,503=0.2"), fault_seed=seed)
    with httpx.Client(transport=_sync(create_app(config)), base_url="https://api.attio.com",
                      headers={"Authorization": f"Bearer {config.token}"}) as client:  # fmt: skip
        return [client.get("/v2/objects").status_code for _ in range(40)]


def _sync(app: SandboxApp) -> httpx.BaseTransport:
    from toolkit.sandbox import SandboxSyncTransport

    return SandboxSyncTransport(app)


def test_status_faults_are_deterministic_under_a_seed() -> None:
    first, again, other = _statuses(1), _statuses(1), _statuses(2)
    assert first == again
    assert first != other
    assert {429, 500, 503, 200} <= set(first)


def test_injected_429_has_the_documented_body_and_a_retry_date(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(faults=FaultSpec(rate_429=1.0)))
    sent = datetime.now(UTC)
    response = harness.client.get("/v2/objects")
    assert (response.status_code, response.json()) == (429, RATE_BODY)
    # The start of the next clock second after the request.
    assert sent < parsedate_to_datetime(response.headers["retry-after"]) <= datetime.now(UTC) + timedelta(seconds=1)
    assert harness.app.log[-1].fault == "429"


def test_drop_before_the_write_raises_connect_error_and_stores_nothing(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(faults=FaultSpec(drop_before=1.0)))
    with pytest.raises(httpx.ConnectError):
        harness.create("people", {"email_addresses": ["ada@example.com"]})
    assert harness.app.store.records and not any(harness.app.store.records.values())
    entry = harness.app.log[-1]
    assert (entry.status, entry.fault, entry.body) == (None, "drop_before",
                                                       {"data": {"values": {"email_addresses": ["ada@example.com"]}}})


def test_drop_after_the_write_raises_read_error_but_the_write_happened(make_sandbox) -> None:
    app = create_app(SandboxConfig(faults=FaultSpec(drop_after=1.0)))
    harness = make_sandbox(app=app)
    with pytest.raises(httpx.ReadError):
        harness.create("people", {"email_addresses": ["ada@example.com"]})
    people = app.catalog.object("people")
    assert people is not None and len(list(app.store.all(people))) == 1
    assert (app.log[-1].status, app.log[-1].fault) == (200, "drop_after")


def test_slow_answers_really_wait(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(faults=FaultSpec(slow=1.0, slow_seconds=0.2)))
    started = time.perf_counter()
    assert harness.client.get("/v2/objects").status_code == 200
    assert time.perf_counter() - started >= 0.2
    assert harness.app.log[-1].fault == "slow"


def test_latency_applies_to_every_answer(make_sandbox) -> None:
    harness = make_sandbox(SandboxConfig(latency=0.05))
    started = time.perf_counter()
    for _ in range(3):
        harness.client.get("/v2/objects")
    assert time.perf_counter() - started >= 0.15
    assert all(entry.fault is None for entry in harness.app.log)


def test_request_log_records_method_path_query_body_status(sandbox: Harness) -> None:
    sandbox.assert_("people", "email_addresses", {"email_addresses": ["ada@example.com"]})
    sandbox.client.get("/v2/objects/people/attributes", params={"limit": "2"})
    first, second = sandbox.app.log
    assert (first.method, first.path, first.query, first.status) == (
        "PUT", "/v2/objects/people/records", {"matching_attribute": "email_addresses"}, 200)
    assert first.body == {"data": {"values": {"email_addresses": ["ada@example.com"]}}}
    assert first.response["data"]["values"]["email_addresses"][0]["email_address"] == "ada@example.com"
    assert (second.method, second.query, second.body) == ("GET", {"limit": "2"}, None)
    sandbox.app.clear_log()
    assert sandbox.app.log == []


@pytest.mark.anyio
async def test_async_transport_in_process() -> None:
    app = create_app(SandboxConfig(faults=FaultSpec(drop_after=1.0)))
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url="https://api.attio.com",
                                 headers={"Authorization": f"Bearer {app.config.token}"}) as client:  # fmt: skip
        with pytest.raises(httpx.ReadError):
            await client.post("/v2/objects/companies/records", json={"data": {"values": {"name": "Acme"}}})
    assert app.log[-1].status == 200


def test_over_loopback_with_uvicorn() -> None:
    app = create_app(SandboxConfig())
    with serve_in_thread(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {app.config.token}"}) as client:
            response = client.put("/v2/objects/companies/records", params={"matching_attribute": "domains"},
                                  json={"data": {"values": {"domains": ["acme.com"]}}})  # fmt: skip
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json; charset=utf-8"
            assert client.get("/v2/nowhere").status_code == 404


def test_drop_after_over_loopback_breaks_the_connection_after_the_write() -> None:
    app = create_app(SandboxConfig(faults=FaultSpec(drop_after=1.0)))
    with serve_in_thread(app) as base_url:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {app.config.token}"}) as client:
            with pytest.raises(httpx.TransportError):
                client.post("/v2/objects/companies/records", json={"data": {"values": {"name": "Acme"}}})
    companies = app.catalog.object("companies")
    assert companies is not None and len(list(app.store.all(companies))) == 1
    assert (app.log[-1].status, app.log[-1].fault) == (200, "drop_after")


def test_auth_and_rate_limit_over_loopback() -> None:
    app = create_app(SandboxConfig(read_rate=100, write_rate=1))
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url) as client:
        unauthorized = client.get("/v2/objects")
        assert unauthorized.status_code == 401 and unauthorized.headers["x-attio-execution-id"]
        client.headers["Authorization"] = f"Bearer {app.config.token}"
        sent = datetime.now(UTC)
        codes = [client.post("/v2/objects/people/records", json={"data": {"values": {}}}) for _ in range(3)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]  # 1 write per second: 3 in a row cannot all pass
    assert limited[0].json() == RATE_BODY
    assert parsedate_to_datetime(limited[0].headers["retry-after"]) > sent
