"""The files in examples/ work as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.cache import Cache
from toolkit.client import AttioClient
from toolkit.pull import pull_schema
from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app, load_seed_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.anyio
async def test_the_sandbox_seed_serves_its_custom_schema_to_a_pull(fresh_cache: Cache) -> None:
    config = SandboxConfig(token="t")
    app = create_app(config, load_seed_file(EXAMPLES / "sandbox-seed.toml", config))
    async with AttioClient("t", base_url="http://sandbox.test", transport=SandboxTransport(app)) as client:
        result = await pull_schema(client, fresh_cache)
    schema = result.schema
    assert result.inactive_objects() == {}
    plan = schema.attribute("people", "plan")
    assert [(o.title, o.is_archived) for o in schema.options_of(plan)] == [
        ("Free", False), ("Pro", False), ("Enterprise", False), ("Legacy", True)]
    assert schema.attribute("workspaces", "mrr").default_currency_code == "USD"
    assert schema.find_member("bob@acme.example.com").access_level == "suspended"  # type: ignore[union-attr]
