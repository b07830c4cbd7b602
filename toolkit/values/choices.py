"""Choices from the cached schema: select, status and actor-reference (api-notes 4.2, 3.4, 6.1).

Select options and statuses are looked up by exact title, by id, then by title ignoring case
and surrounding spaces (canonicalised to the cached title, with a note). The per-attribute
index is built once per schema (see `toolkit.values.core`), not per value.

Archived options and statuses are refused: whether Attio accepts them is [unconfirmed]
(api-notes 4.2 select; 8), so we take the safe side. Unknown titles get the closest active
titles as a hint. Actor references resolve a member's email (case-insensitively, api-notes
6.1) or id to the explicit ``{"referenced_actor_type": "workspace-member", ...}`` form. A
suspended member is refused: whether Attio takes one is [unconfirmed] (api-notes 4.2), the
sandbox refuses by default, and refusing is the side that cannot fail at Attio (README,
"Attio behaviours we assume").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..schema import AttributeInfo, WorkspaceSchema
from .result import Context, Quick, did_you_mean
from .scalars import REFUSED, clean_str, unwrap

__all__ = ["UUID", "ChoiceIndex", "check_actor", "check_select", "check_status", "fast_select", "fast_status"]

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class _Choice:
    choice_id: str
    title: str
    is_archived: bool


@dataclass(frozen=True)
class ChoiceIndex:
    """The options (or statuses) of one attribute, indexed for the three lookups."""

    by_title: dict[str, _Choice] = field(default_factory=dict)
    by_id: dict[str, _Choice] = field(default_factory=dict)
    by_folded: dict[str, tuple[_Choice, ...]] = field(default_factory=dict)
    active_titles: tuple[str, ...] = ()

    @classmethod
    def build(cls, choices: Iterable[tuple[str, str, bool]]) -> ChoiceIndex:
        """Index ``(id, title, is_archived)`` triples."""
        by_title: dict[str, _Choice] = {}
        by_id: dict[str, _Choice] = {}
        folded: dict[str, list[_Choice]] = {}
        for choice_id, title, archived in choices:
            choice = _Choice(choice_id, title, archived)
            # An active option wins a title shared with an archived one.
            if title not in by_title or by_title[title].is_archived:
                by_title[title] = choice
            by_id[choice_id.lower()] = choice
            folded.setdefault(title.strip().casefold(), []).append(choice)
        return cls(
            by_title,
            by_id,
            {k: tuple(v) for k, v in folded.items()},
            tuple(c.title for c in by_title.values() if not c.is_archived),
        )

    @classmethod
    def for_select(cls, attribute: AttributeInfo, schema: WorkspaceSchema) -> ChoiceIndex:
        """The index of a select attribute's cached options."""
        return cls.build((o.option_id, o.title, o.is_archived) for o in schema.options_of(attribute))

    @classmethod
    def for_status(cls, attribute: AttributeInfo, schema: WorkspaceSchema) -> ChoiceIndex:
        """The index of a status attribute's cached statuses."""
        return cls.build((s.status_id, s.title, s.is_archived) for s in schema.statuses_of(attribute))


def fast_select(item: Any, index: ChoiceIndex) -> Quick:
    """select, when `item` is the exact title of an active option."""
    found = index.by_title.get(item) if type(item) is str else None
    return ({"option": item}, None) if found is not None and not found.is_archived and "\x00" not in item else None


def fast_status(item: Any, index: ChoiceIndex) -> Quick:
    """status, when `item` is the exact title of an active status."""
    found = index.by_title.get(item) if type(item) is str else None
    return ({"status": item}, None) if found is not None and not found.is_archived and "\x00" not in item else None


def check_select(item: Any, ctx: Context) -> dict[str, Any] | None:
    """select: an option title or id, or ``{"option": ...}``."""
    return _choose(item, ctx, "option", "option")


def check_status(item: Any, ctx: Context) -> dict[str, Any] | None:
    """status: a status title or id, or ``{"status": ...}``."""
    return _choose(item, ctx, "status", "status")


_PLURAL = {"option": "options", "status": "statuses"}


def _choose(item: Any, ctx: Context, key: str, noun: str) -> dict[str, Any] | None:
    item = unwrap(item, key, ctx)
    if item is REFUSED:
        return None
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        ctx.note(f"read the number {item!r} as the {noun} title {str(item)!r}")
        item = str(item)
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not an {noun} title or id")
        return None
    if clean_str(item, ctx, limit=10_000) is None:
        return None
    index: ChoiceIndex = ctx.index_data
    found = index.by_title.get(item)
    given_id = False
    if found is None and UUID.fullmatch(item):
        found = index.by_id.get(item.lower())
        given_id = found is not None
    if found is None:
        matches = index.by_folded.get(item.strip().casefold(), ())
        active = [m for m in matches if not m.is_archived]
        if len(active) > 1:
            titles = ", ".join(repr(m.title) for m in active)
            ctx.refuse(item, f"the {noun} title matches several {_PLURAL[noun]} when case is ignored: {titles}")
            return None
        found = active[0] if active else (matches[0] if matches else None)
        if found is not None and not found.is_archived:
            ctx.note(f"matched {item!r} to the {noun} {found.title!r}")
    if found is None:
        if not item.strip():
            ctx.refuse(item, f"an empty {noun} title", _suggest(item, index, noun))
            return None
        ctx.refuse(item, f"no {noun} with this title or id", _suggest(item, index, noun))
        return None
    if found.is_archived:
        ctx.refuse(item, f"the {noun} {found.title!r} is archived", _suggest(item, index, noun))
        return None
    return {key: found.choice_id if given_id else found.title}


def _suggest(item: str, index: ChoiceIndex, noun: str) -> str:
    if not index.active_titles:
        return f"this attribute has no active {_PLURAL[noun]} in the cached schema (run `attio-sync schema pull`?)"
    shown = ", ".join(repr(t) for t in index.active_titles[:8])
    more = "" if len(index.active_titles) <= 8 else f" and {len(index.active_titles) - 8} more"
    return did_you_mean(item, index.active_titles, f"the {_PLURAL[noun]} are {shown}{more}", quote=True)


def check_actor(item: Any, ctx: Context) -> dict[str, Any] | None:
    """actor-reference: a workspace member's email or id, or one of the two object forms."""
    by_email = True
    if isinstance(item, dict):
        if "workspace_member_email_address" in item:
            item = unwrap(item, "workspace_member_email_address", ctx)
        elif "referenced_actor_id" in item or "referenced_actor_type" in item:
            if set(item) != {"referenced_actor_type", "referenced_actor_id"}:
                ctx.refuse(item, "an actor object has referenced_actor_type and referenced_actor_id only")
                return None
            if item["referenced_actor_type"] != "workspace-member":
                # Only workspace members can be written (api-notes 4.2 actor-reference).
                hint = 'set "referenced_actor_type": "workspace-member"'
                ctx.refuse(item, "only workspace-member actors can be written", hint)
                return None
            item, by_email = item["referenced_actor_id"], False
        else:
            ctx.refuse(
                item,
                "not an actor reference object",
                "send the member's email, or "
                '{"referenced_actor_type": "workspace-member", "referenced_actor_id": ...}',
            )
            return None
        if item is REFUSED:
            return None
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not a workspace member's email or id")
        return None
    text = item.strip()
    if len(text) > 320:
        ctx.refuse(item, "too long for a member's email or id")
        return None
    if not by_email and not UUID.fullmatch(text):
        ctx.refuse(item, "referenced_actor_id is not a UUID")
        return None
    member = ctx.schema.find_member(text)
    if member is None:
        emails = [m.email_address for m in ctx.schema.members]
        hint = did_you_mean(text, emails, "the member must be in the cached schema")
        ctx.refuse(item, "no workspace member with this email or id", hint)
        return None
    if member.access_level == "suspended":
        # Whether Attio accepts a suspended member is [unconfirmed]: refused, the safe side (issue 15).
        active = [m.email_address for m in ctx.schema.members if m.access_level != "suspended"]
        hint = "reactivate the member in Attio (then pull the schema), or map another member"
        ctx.refuse(item, f"{member.email_address} is a suspended workspace member",
                   hint + (f", e.g. {active[0]}" if active else ""))
        return None
    if text != member.workspace_member_id:
        ctx.note(f"resolved {text!r} to workspace member {member.workspace_member_id}")
    return {"referenced_actor_type": "workspace-member", "referenced_actor_id": member.workspace_member_id}
