"""`schema pull`: read the workspace schema from Attio and store it as a new cache snapshot.

Requests fan out as wide as the read budget allows: first `/v2/self`, `/v2/objects` and
`/v2/workspace_members` together, then every object's attributes together, then the options of
every select attribute and the statuses of every status attribute together. The client's
rate limiter keeps the whole fan-out within Attio's read limit.

Nothing is written until everything has been read; then the snapshot goes in as one
transaction (`Cache.save_schema`), so an interrupted pull changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from .aio import gather_all
from .cache import Cache, utcnow
from .client import AttioClient
from .models import SchemaPull
from .schema import ACTIVATABLE_OBJECTS, WorkspaceSchema

__all__ = ["ACTIVATION_HINTS", "PullResult", "pull_schema"]

#: What each standard object that needs activating is for, and where to activate it.
ACTIVATION_HINTS: dict[str, str] = {
    "users": (
        "the identify-user action cannot assert users. Activate Users in Attio under "
        "Workspace settings > Objects (an admin clicks Activate next to Users)."
    ),
    "workspaces": (
        "the group-workspace action cannot assert workspaces, and users cannot be linked to "
        "them. Activate Workspaces in Attio under Workspace settings > Objects."
    ),
    "deals": "deals cannot be asserted. Activate Deals in Attio under Workspace settings > Objects.",
}


@dataclass(frozen=True)
class PullResult:
    """What a pull fetched and stored."""

    schema: WorkspaceSchema
    pull: SchemaPull
    seconds: float
    requests: int

    def attribute_counts(self) -> dict[str, int]:
        """Non-archived attributes per object slug, in the order Attio listed the objects."""
        return {
            obj.api_slug: sum(1 for a in self.schema.attributes_of(obj.api_slug) if not a.is_archived)
            for obj in self.schema.objects
        }

    def inactive_objects(self) -> dict[str, str]:
        """Standard objects that are not activated, with what that blocks and how to fix it."""
        return {
            slug: ACTIVATION_HINTS[slug]
            for slug in ACTIVATABLE_OBJECTS
            if slug != "deals" and not self.schema.is_activated(slug)
        }


async def fetch_schema(client: AttioClient) -> WorkspaceSchema:
    """Read the whole schema from Attio (no database involved)."""
    self_body, objects, members = await gather_all(
        [client.get_self(), client.list_objects(), client.list_members()]
    )
    assert isinstance(self_body, dict), "GET /v2/self answers an object"
    slugs = [o["api_slug"] for o in objects]
    attribute_lists = await gather_all(client.list_attributes(slug, show_archived=True) for slug in slugs)
    attributes = dict(zip(slugs, attribute_lists, strict=True))

    option_calls: list[Awaitable[list[Any]]] = []
    status_calls: list[Awaitable[list[Any]]] = []
    for slug, listed in attributes.items():
        for attr in listed:
            if attr.get("is_archived"):
                continue  # options of an archived attribute can be neither written nor checked
            if attr["type"] == "select":
                option_calls.append(client.list_options(slug, attr["api_slug"]))
            elif attr["type"] == "status":
                status_calls.append(client.list_statuses(slug, attr["api_slug"]))
    lists = await gather_all([*option_calls, *status_calls])
    option_lists, status_lists = lists[: len(option_calls)], lists[len(option_calls) :]

    return WorkspaceSchema.from_api(
        self_body=self_body,
        objects=objects,
        attributes=attributes,
        options=[o for listed in option_lists for o in listed],
        statuses=[s for listed in status_lists for s in listed],
        members=members,
    )


async def pull_schema(client: AttioClient, cache: Cache) -> PullResult:
    """Fetch the schema from Attio and store it as the cache's newest snapshot.

    Raises:
        ApiError: a request failed for good (the cache is left as it was).
        CacheError: the snapshot could not be stored (the cache is left as it was).
    """
    started_at, clock = utcnow(), time.monotonic()
    sent_before = client.requests_sent
    schema = await fetch_schema(client)
    requests = client.requests_sent - sent_before
    pull = SchemaPull(started_at=started_at, finished_at=utcnow(), base_url=client.base_url,
                      requests=requests)
    cache.save_schema(schema, pull)
    return PullResult(schema=schema, pull=pull, seconds=time.monotonic() - clock, requests=requests)
