"""The client on Attio's real response shapes, replayed from the hand-built cassettes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import vcr
import yaml

from toolkit.cache import Cache
from toolkit.client import AttioClient
from toolkit.errors import InvalidRequestError, NotFoundError
from toolkit.pull import pull_schema

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
KEY = "sk_cassette_key_that_must_never_be_recorded_0123456789abcdef"

#: How every cassette is used: never record in tests, never keep credentials.
attio_vcr = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none",
                    filter_headers=["authorization"], match_on=["method", "scheme", "host", "path", "query"])


@pytest.mark.anyio
async def test_pull_on_real_attio_shapes(fresh_cache: Cache) -> None:
    with attio_vcr.use_cassette("attio_pull_real_shapes.yaml") as cassette:
        async with AttioClient(KEY, base_url="https://api.attio.com") as client:
            result = await pull_schema(client, fresh_cache)
        assert cassette.all_played
    schema = fresh_cache.load_schema()
    assert schema.workspace.workspace_slug == "r-and-k-tech-llc"
    assert [o.api_slug for o in schema.objects] == ["users", "people", "deals", "companies"]
    # Workspaces was absent from the live object list: the pull says what that blocks.
    assert list(result.inactive_objects()) == ["workspaces"]
    email = schema.attribute("people", "email_addresses")
    assert email.attribute_id == "34ff8623-0f5b-4b27-9b4a-2c0f6e3d2a11"
    assert email.is_unique and email.is_multiselect and email.config["currency"]["default_currency_code"] is None
    assert schema.attribute("people", "company").allowed_object_ids == (schema.object("companies").object_id,)
    assert [s.title for s in schema.statuses_of(schema.attribute("deals", "stage"))] == ["Lead", "In Progress",
                                                                                         "Won 🎉", "Lost"]
    assert schema.find_member("Robert@Example.com").access_level == "admin"  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_assert_on_real_attio_shapes() -> None:
    values = {"email_addresses": [{"email_address": "Test.PersonVCR@example.com"}],
              "name": [{"first_name": "Test", "last_name": "PersonVCR", "full_name": "Test PersonVCR"}]}
    attempts = []
    with attio_vcr.use_cassette("attio_assert_person_real_shapes.yaml", allow_playback_repeats=False) as cassette:
        async with AttioClient(KEY, base_url="https://api.attio.com", on_attempt=attempts.append) as client:
            # The cassette answers 429 (Retry-After as an HTTP date, long past) and then 200.
            record = await client.assert_record("people", "email_addresses", values)
            assert record["id"]["record_id"] == record["values"]["record_id"][0]["value"]
            assert record["values"]["email_addresses"][0]["email_address"] == "test.personvcr@example.com"
            assert [a.status for a in attempts] == [429, 200]

            with pytest.raises(InvalidRequestError) as invalid:
                await client.assert_record("people", "email_addresses",
                                           {"email_addresses": ["a@example.com"], "name": [{"value": "Ada"}]})
            assert invalid.value.code == "validation_type"
            assert [e["path"] for e in invalid.value.validation_errors] == [["first_name"], ["last_name"],
                                                                            ["full_name"]]

            with pytest.raises(NotFoundError, match="peopel"):
                await client.assert_record("peopel", "email_addresses", values)
        assert cassette.all_played


def test_no_cassette_holds_a_credential() -> None:
    cassettes = list(CASSETTES.glob("*.yaml"))
    assert cassettes
    for path in cassettes:
        text = path.read_text()
        assert not re.search(r"(?i)bearer\s+[A-Za-z0-9_.-]{8,}", text), path  # token_type "Bearer" alone is fine
        assert KEY not in text, path
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {name.lower() for name in interaction["request"]["headers"]}
            assert "authorization" not in headers, path


@pytest.mark.anyio
async def test_recording_scrubs_the_key(tmp_path: Path) -> None:
    import httpx

    recorder = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="all", filter_headers=attio_vcr.filter_headers)
    answer = httpx.MockTransport(lambda r: httpx.Response(200, json={"active": True, "workspace_id": "w"}))
    with recorder.use_cassette("recorded.yaml"):
        async with AttioClient(KEY, base_url="https://api.attio.com", transport=answer) as client:
            await client.get_self()
    text = (tmp_path / "recorded.yaml").read_text()
    assert "/v2/self" in text
    assert KEY not in text and "authorization" not in text.lower()


# -- the sandbox's recordings, held against Attio's real shapes --------------------------------


def _answers(name: str) -> dict[tuple[str, str], list[object]]:
    """(method, path template) -> the JSON bodies a cassette answered, objects and slugs folded."""
    import json
    from urllib.parse import urlsplit

    found: dict[tuple[str, str], list[object]] = {}
    for interaction in yaml.safe_load((CASSETTES / name).read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        path = urlsplit(request["uri"]).path
        template = re.sub(r"^/v2/objects/[^/]+", "/v2/objects/{o}", path)
        template = re.sub(r"/attributes/[^/]+/(options|statuses)$", r"/attributes/{a}/\1", template)
        body = response["body"]["string"]
        found.setdefault((request["method"], f"{template} {response['status']['code']}"), []).append(
            json.loads(body if isinstance(body, str) else body.decode()))
    return found


def _shape(value: object) -> object:
    """The keys and JSON types of a value, lists folded to the union of their items' shapes."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        merged: dict[str, object] = {}
        kinds: set[str] = set()
        for item in value:
            shaped = _shape(item)
            if isinstance(shaped, dict):
                merged.update(shaped)
            else:
                kinds.add(str(shaped))
        return [merged] if merged else sorted(kinds)
    return "null" if value is None else type(value).__name__


def _differences(real: object, ours: object, where: str = "$") -> list[str]:
    """Where the sandbox's shape lacks or retypes what Attio's real answer has."""
    if isinstance(real, dict) and isinstance(ours, dict):
        problems = [f"{where}.{key}: missing" for key in real if key not in ours]
        return problems + [p for key in real if key in ours
                           for p in _differences(real[key], ours[key], f"{where}.{key}")]
    if isinstance(real, list) and isinstance(ours, list):
        return [p for r in real for o in ours[:1] for p in _differences(r, o, f"{where}[]")] if real and ours else []
    if "null" in (real, ours) or real == ours:
        return []  # null where the other has a value: both are Attio's (e.g. relationship)
    return [f"{where}: {real} in Attio, {ours} in the sandbox"]


@pytest.mark.anyio
@pytest.mark.parametrize(("real", "ours"), [("attio_pull_real_shapes.yaml", "sandbox_pull.yaml"),
                                            ("attio_assert_person_real_shapes.yaml", "sandbox_assert_person.yaml")])
async def test_sandbox_recordings_have_attios_real_shapes(real: str, ours: str) -> None:
    real_answers, our_answers = _answers(real), _answers(ours)
    compared = 0
    for key, bodies in real_answers.items():
        if key not in our_answers:
            continue
        compared += 1
        assert _differences(_shape(bodies), _shape(our_answers[key])) == [], key
    assert compared >= (6 if "pull" in real else 2)


@pytest.mark.anyio
async def test_the_sandbox_pull_cassette_replays(fresh_cache: Cache) -> None:
    with attio_vcr.use_cassette("sandbox_pull.yaml") as cassette:
        async with AttioClient("any-key-works-in-replay", base_url="https://api.attio.com") as client:
            result = await pull_schema(client, fresh_cache)
        assert cassette.all_played
    assert result.schema.workspace.workspace_slug == "r-and-k-tech-llc"
    assert result.schema.is_activated("users") and not result.schema.is_activated("workspaces")
