"""`schema diff`: what changed between two schema snapshots.

Changes are what a mapping can break on: objects activated or deactivated; attributes
added, removed, archived, restored, retyped, or changed in how they accept values (unique,
required, writable, multiselect); options and statuses added, removed, archived or restored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .schema import AttributeInfo, WorkspaceSchema

__all__ = ["Change", "diff_schemas"]

_FLAGS = ("is_unique", "is_required", "is_writable", "is_multiselect")


@dataclass(frozen=True)
class Change:
    """One difference. `subject` is `object`, `object.attribute` or `object.attribute: title`."""

    kind: str
    subject: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail}


def diff_schemas(old: WorkspaceSchema, new: WorkspaceSchema) -> list[Change]:
    """Every change from `old` to `new`, objects first, in a stable order."""
    changes: list[Change] = []
    old_objects = {o.api_slug for o in old.objects}
    new_objects = {o.api_slug for o in new.objects}
    changes += [Change("object activated", slug) for slug in sorted(new_objects - old_objects)]
    changes += [Change("object deactivated", slug) for slug in sorted(old_objects - new_objects)]

    old_attrs = {(a.object_slug, a.api_slug): a for a in old.attributes}
    new_attrs = {(a.object_slug, a.api_slug): a for a in new.attributes}
    for key in sorted(old_attrs.keys() | new_attrs.keys()):
        subject = ".".join(key)
        before, after = old_attrs.get(key), new_attrs.get(key)
        if before is None:
            assert after is not None
            changes.append(Change("attribute added", subject, after.type))
            changes += _choices(old, new, None, after, subject)
            continue
        if after is None:
            changes.append(Change("attribute removed", subject, before.type))
            continue
        if before.is_archived != after.is_archived:
            changes.append(Change("attribute archived" if after.is_archived else "attribute restored", subject))
        if before.type != after.type:
            changes.append(Change("attribute retyped", subject, f"{before.type} -> {after.type}"))
        for flag in _FLAGS:
            if getattr(before, flag) != getattr(after, flag):
                changes.append(Change("attribute changed", subject,
                                      f"{flag}: {getattr(before, flag)} -> {getattr(after, flag)}"))
        changes += _choices(old, new, before, after, subject)
    return changes


def _choices(old: WorkspaceSchema, new: WorkspaceSchema, before: AttributeInfo | None,
             after: AttributeInfo, subject: str) -> list[Change]:
    """Option or status changes of one attribute, matched by title (titles act as slugs)."""
    changes: list[Change] = []
    for noun, lister in (("option", "options_of"), ("status", "statuses_of")):
        was = _by_title(getattr(old, lister)(before)) if before else {}
        now = _by_title(getattr(new, lister)(after))
        for title in sorted(was.keys() | now.keys()):
            a, b = was.get(title), now.get(title)
            where = f"{subject}: {title}"
            if a is None:
                assert b is not None
                changes.append(Change(f"{noun} added", where, "archived" if b.is_archived else ""))
            elif b is None:
                changes.append(Change(f"{noun} removed", where))
            elif a.is_archived != b.is_archived:
                changes.append(Change(f"{noun} archived" if b.is_archived else f"{noun} restored", where))
    return changes


def _by_title(items: Iterable[Any]) -> dict[str, Any]:
    return {item.title: item for item in items}
