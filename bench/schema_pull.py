"""Benchmark: `schema pull` of a large workspace against Attio's 100 reads/s limit.

The workspace has 40 objects of 60 attributes each, a third of them selects with 20 options,
so a pull is 3 + 40 + 800 = 843 requests. The transport answers instantly but enforces the
read limit the strict way (more than 100 requests in ANY one-second window gets a 429, as
Attio would at worst), so the pull's speed is set by the client's rate limiter alone.

It prints requests made, seconds, achieved reads per second as a ratio of the limit, and
429s received. Aim: at least 0.9 of the limit and no 429.

    .venv/bin/python bench/schema_pull.py [--objects 40] [--attributes 60] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import email.utils
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from toolkit.cache import open_cache
from toolkit.client import AttioClient
from toolkit.pull import pull_schema

WS = str(uuid.uuid4())


def uid() -> str:
    return str(uuid.uuid4())


def build_workspace(objects: int, attributes: int, options: int) -> dict[str, Any]:
    data: dict[str, Any] = {"objects": [], "attributes": {}, "options": {}}
    for o in range(objects):
        slug, object_id = f"object_{o}", uid()
        data["objects"].append({"id": {"workspace_id": WS, "object_id": object_id}, "api_slug": slug,
                                "singular_noun": slug, "plural_noun": slug,
                                "created_at": "2025-01-01T00:00:00.000000000Z"})
        listed = []
        for a in range(attributes):
            is_select = a % 3 == 0
            attr_slug, attribute_id = f"attr_{a}", uid()
            listed.append({
                "id": {"workspace_id": WS, "object_id": object_id, "attribute_id": attribute_id},
                "title": attr_slug, "description": None, "api_slug": attr_slug,
                "type": "select" if is_select else "text",
                "is_system_attribute": False, "is_writable": True, "is_required": False, "is_unique": False,
                "is_multiselect": False, "is_default_value_enabled": False, "is_archived": False, "default_value": None,
                "relationship": None, "created_at": "2025-01-01T00:00:00.000000000Z",
                "config": {"currency": {"default_currency_code": None, "display_type": None},
                           "record_reference": {"allowed_object_ids": None}}})
            if is_select:
                data["options"][(slug, attr_slug)] = [
                    {"id": {"workspace_id": WS, "object_id": object_id, "attribute_id": attribute_id,
                            "option_id": uid()},
                     "title": f"Option {n}", "is_archived": False} for n in range(options)]
        data["attributes"][slug] = listed
    return data


class LimitedAttio(httpx.AsyncBaseTransport):
    """Answers at once from memory; more than `rate` requests in any 1 s window gets a 429."""

    def __init__(self, data: dict[str, Any], rate: int) -> None:
        self.data, self.rate = data, rate
        self.recent: collections.deque[float] = collections.deque()
        self.requests = self.rejected = 0
        self.bodies = {key: self._encode(value) for key, value in self._routes().items()}

    def _routes(self) -> dict[str, Any]:
        routes: dict[str, Any] = {
            "/v2/self": {"active": True, "workspace_id": WS, "workspace_name": "Bench",
                         "scope": "object_configuration:read"},
            "/v2/objects": {"data": self.data["objects"]},
            "/v2/workspace_members": {"data": []},
        }
        for slug, listed in self.data["attributes"].items():
            routes[f"/v2/objects/{slug}/attributes"] = {"data": listed}
        for (slug, attr), listed in self.data["options"].items():
            routes[f"/v2/objects/{slug}/attributes/{attr}/options"] = {"data": listed}
        return routes

    @staticmethod
    def _encode(body: Any) -> bytes:
        return json.dumps(body).encode()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        self.requests += 1
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.rate:
            self.rejected += 1
            reset = email.utils.formatdate(time.time() + 1, usegmt=True)
            return httpx.Response(429, headers={"Retry-After": reset}, json={
                "status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                "message": "Rate limit exceeded, please try again later"})
        self.recent.append(now)
        return httpx.Response(200, content=self.bodies[request.url.path],
                              headers={"content-type": "application/json; charset=utf-8"})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--attributes", type=int, default=60)
    parser.add_argument("--options", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args()

    transport = LimitedAttio(build_workspace(args.objects, args.attributes, args.options), args.rate)
    with tempfile.TemporaryDirectory() as tmp:
        cache = open_cache(str(Path(tmp) / "bench.db"))
        async with AttioClient("bench-key", base_url="https://api.attio.test", transport=transport,
                               read_rate=args.rate) as client:
            started = time.monotonic()
            result = await pull_schema(client, cache)
            seconds = time.monotonic() - started
        cache.close()
    achieved = transport.requests / seconds
    print(f"schema: {args.objects} objects x {args.attributes} attributes, "
          f"{len(result.schema.options)} options; read limit {args.rate}/s")
    print(f"requests : {transport.requests} ({transport.rejected} answered 429)")
    print(f"seconds  : {seconds:.2f} (the cache write included)")
    print(f"reads/s  : {achieved:.1f} = {achieved / args.rate:.3f} of the limit (aim >= 0.9, and no 429)")


if __name__ == "__main__":
    asyncio.run(main())
