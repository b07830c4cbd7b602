"""Record the sandbox cassettes: the client's real requests against the in-process sandbox.

    .venv/bin/python cassettes/record_sandbox.py

The sandbox runs with seeded record ids and a fixed clock, so bodies are the same on every
recording (execution ids differ, as on Attio). `tests/test_cassettes.py` replays them and holds their shapes against the hand-built
cassettes of Attio's real responses (`build_handmade.py`). The Authorization header is never
recorded.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import vcr

from toolkit.cache import open_cache
from toolkit.client import AttioClient
from toolkit.pull import pull_schema
from toolkit.sandbox import SandboxConfig, SandboxTransport
from toolkit.sandbox.app import SandboxApp

HERE = Path(__file__).resolve().parent
BASE_URL = "https://api.attio.com"  # what the cassettes say; the transport never leaves the process
TOKEN = "sandbox-recording-token"
PERSON = {"email_addresses": [{"email_address": "Test.PersonVCR@example.com"}],
          "name": [{"first_name": "Test", "last_name": "PersonVCR", "full_name": "Test PersonVCR"}]}


def sandbox() -> SandboxApp:
    config = SandboxConfig(token=TOKEN, activate=frozenset({"users", "deals"}), workspace_name="R and K Tech LLC",
                           workspace_slug="r-and-k-tech-llc", id_seed=2025, read_rate=None, write_rate=None)
    return SandboxApp(config, clock=lambda: datetime(2025, 7, 27, 1, 45, 27, 220000, tzinfo=timezone.utc))


recorder = vcr.VCR(cassette_library_dir=str(HERE), record_mode="all", filter_headers=["authorization"],
                   match_on=["method", "scheme", "host", "path", "query"])


async def record() -> None:
    app = sandbox()
    async with AttioClient(TOKEN, base_url=BASE_URL, transport=SandboxTransport(app)) as client:
        with recorder.use_cassette("sandbox_pull.yaml"), tempfile.TemporaryDirectory() as tmp:
            cache = open_cache(str(Path(tmp) / "record.db"))
            await pull_schema(client, cache)
            cache.close()
        with recorder.use_cassette("sandbox_assert_person.yaml"):
            await client.assert_record("people", "email_addresses", PERSON)
            try:
                await client.assert_record("people", "email_addresses",
                                           {"email_addresses": ["a@example.com"], "name": [{"value": "Ada"}]})
            except Exception as exc:  # the refusal is what is being recorded
                print(f"recorded the refusal: {exc}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(record())
