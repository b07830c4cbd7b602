"""Planning: one event and the mapping's actions → the writes to send, or every problem.

Nothing here talks to Attio. Every value is mapped from the event and prepared by
`toolkit.values` (so an invalid one is caught here, with the others), and the writes are laid
out in the order the action's targets declare (`toolkit.actions`): each target's matching value
(required), its mapped attributes, and what the action fills itself, such as a user's `person`.

References whose record id is not known yet stay symbolic until sending: `FromWrite` (the
record another write of this event asserts) and `Lookup` (a record found by a unique value,
such as a workspace by `workspace_id`). In append mode (the default) multiselect values other
than the matching attribute leave the assert and go in `appends`, sent as a PATCH, because
Attio's assert replaces them (api-notes 5.2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .actions import Action, Fill, Target
from .mapping import EventMapping
from .schema import WorkspaceSchema
from .sources import Source
from .values import Prepared, ValueOptions, comparison_form, prepare
from .values.references import shorthand_attribute
from .values.result import preview

__all__ = ["TIME_KEYS", "EventPlan", "EventTimeError", "FromWrite", "Lookup", "Write", "event_time", "plan_event"]

def match_key(write_form: list[Any]) -> str:
    """The canonical text of a matching value: values Attio takes as equal (emails of any case),
    equal keys."""
    return json.dumps(comparison_form(write_form), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class FromWrite:
    """A reference to the record written by write number `index` of the same event."""

    index: int
    object: str


@dataclass(frozen=True)
class Lookup:
    """A reference to a record of `object` found by a unique `attribute` value (a write form)."""

    object: str
    attribute: str
    value: tuple[Any, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.object, f"{self.attribute}={match_key(list(self.value))}")

    def describe(self) -> str:
        shown = [next(iter(v.values())) if isinstance(v, dict) and len(v) == 1 else v for v in self.value]
        return f"{self.object} with {self.attribute} {', '.join(map(str, shown))}"


@dataclass
class Write:
    """One record assert, and the multiselect values to append to that record after it."""

    object: str
    matching_attribute: str
    values: dict[str, list[Any]]
    appends: dict[str, list[Any]] = field(default_factory=dict)
    action: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.object, f"{self.matching_attribute}={match_key(self.values[self.matching_attribute])}")

    def lookups(self) -> Iterable[Lookup]:
        for forms in (*self.values.values(), *self.appends.values()):
            for item in forms:
                if isinstance(item, Lookup):
                    yield item


@dataclass
class EventPlan:
    """What one event asks for: writes in order, or the problems that make it invalid."""

    writes: list[Write] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    time: datetime | None = None
    no_action: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.no_action

    def keys(self) -> set[tuple[str, str]]:
        """Every record this event writes or refers to: events sharing one keep input order."""
        found = {w.key for w in self.writes}
        for write in self.writes:
            found.update(lookup.key for lookup in write.lookups())
        return found


#: The keys that say when an event happened: the first one present (not null) is read.
TIME_KEYS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


class EventTimeError(ValueError):
    """An event's time that is present but not an ISO-8601 time: its key, value and why."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


def event_time(event: dict[str, Any]) -> datetime | None:
    """When the event happened, in UTC: the first of `TIME_KEYS` present, or None without one.

    A time without an offset is read as UTC. Raises `EventTimeError` when that first present
    value is not an ISO-8601 time (a number, an empty string, month 13, an offset of 24 hours
    or more) or is one that falls outside the years 1 to 9999 in UTC.
    """
    for key in TIME_KEYS:
        value = event.get(key)
        if value is not None:
            return _utc_time(key, value)
    return None


def _utc_time(key: str, value: Any) -> datetime:
    if not isinstance(value, str):
        raise EventTimeError(key, value, f"not an ISO-8601 time: {type(value).__name__} {preview(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventTimeError(key, value, f"not an ISO-8601 time: {preview(value)!r}") from None
    try:
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise EventTimeError(key, value, f"outside the years 1 to 9999 in UTC: {preview(value)!r}") from None


class _Planner:
    """Plans one event; collects problems instead of stopping at the first."""

    def __init__(self, event: dict[str, Any], schema: WorkspaceSchema) -> None:
        self.event = event
        self.schema = schema
        self.plan = EventPlan()
        try:
            self.plan.time = event_time(event)
        except EventTimeError as exc:  # a problem of the event, not of any one action
            self.plan.problems.append({"action": None, "field": exc.key, "input": preview(exc.value),
                                       "reason": exc.reason,
                                       "hint": "send an ISO-8601 time such as 2026-01-01T00:00:00Z, or leave it out"})

    def problem(self, action: Action, field_name: str, reason: str, *, value: Any = None,
                hint: str | None = None) -> None:
        self.plan.problems.append({"action": action.name, "field": field_name, "input": value,
                                   "reason": reason, "hint": hint})

    def value(self, action: Action, obj: str, slug: str, raw: Any, label: str) -> list[Any] | None:
        """The write form of one value, or None (a skipped null, or a problem recorded)."""
        attribute = self.schema.find_attribute(obj, slug)
        if attribute is None:
            self.problem(action, f"{obj}.{slug}", f"{obj} has no attribute {slug!r} in the cached schema",
                         value=raw, hint="run `attio-sync check` on the mapping")
            return None
        options = ValueOptions(phone_region=action.options.phone_region, nulls=action.options.nulls)
        prepared: Prepared = prepare(raw, attribute, self.schema, options=options)
        for problem in prepared.problems:
            self.problem(action, label, problem.reason, value=problem.input, hint=problem.hint)
        self.plan.notes.extend(f"{label}: {note}" for note in prepared.notes)
        self.plan.notes.extend(f"{label}: warning: {warning}" for warning in prepared.warnings)
        if not prepared.ok or prepared.skip:
            return None
        return self.symbolic(list(prepared.value or []))

    def symbolic(self, forms: list[Any]) -> list[Any]:
        """Record references by a unique value become `Lookup`s, resolved when sending."""
        result: list[Any] = []
        for item in forms:
            if isinstance(item, dict) and "target_object" in item and "target_record_id" not in item:
                (attribute, value), = ((k, v) for k, v in item.items() if k != "target_object")
                result.append(Lookup(item["target_object"], attribute, tuple(value)))
            else:
                result.append(item)
        return result

    def required(self, action: Action, field_name: str, obj: str, slug: str) -> list[Any] | None:
        source: Source = getattr(action, field_name)
        found, raw = source.resolve(self.event)
        if not found or raw is None or raw == "":
            self.problem(action, field_name, f"no {field_name}: {source.describe()} is not in the event",
                         hint=f"send it, or map {field_name} to where the event carries it")
            return None
        return self.value(action, obj, slug, raw, f"{obj}.{slug}")

    def attributes(self, action: Action, obj: str, sources: dict[str, Source]) -> dict[str, list[Any]]:
        values: dict[str, list[Any]] = {}
        for slug, source in sources.items():
            found, raw = source.resolve(self.event)
            if not found:
                continue  # an absent trait is not an error: the attribute is left alone
            written = self.value(action, obj, slug, raw, f"{obj}.{slug}")
            if written is not None:
                values[slug] = written
        return values

    def write(self, action: Action, obj: str, matching: str, values: dict[str, list[Any]]) -> Write:
        """A write whose multiselect values move to `appends` in append mode."""
        write = Write(object=obj, matching_attribute=matching, values=values, action=action.name)
        if action.options.multiselect == "append":
            for slug in list(values):
                attribute = self.schema.find_attribute(obj, slug)
                if slug != matching and attribute is not None and attribute.is_multiselect and values[slug]:
                    write.appends[slug] = values.pop(slug)
        self.plan.writes.append(write)
        return write

    # -- one action, from what it declares ---------------------------------------------------

    def action(self, action: Action) -> None:
        """The writes of an action's targets, in order, or its problems (then no write)."""
        targets = action.targets()
        before = len(self.plan.problems)
        # Matching values first, each read once: a fill from the same field reuses it.
        matched = {t.matching_field: self.required(action, t.matching_field, t.object, t.matching)
                   for t in targets if t.matching_field is not None}
        laid_out: list[tuple[Target, str, dict[str, list[Any]]]] = []
        for target in targets:
            values = self.attributes(action, target.object, target.attributes)
            for fill in target.fills:
                if (filled := self.fill(action, target, fill, targets, matched)) is not None:
                    values[fill.slug] = filled
            if target.matching_field is not None:
                value = matched[target.matching_field]
                if value is None:
                    continue
                values[target.matching] = value
                matching = target.matching
            else:
                attribute = self.schema.find_attribute(target.object, target.matching)
                matching = attribute.api_slug if attribute else target.matching
                if matching not in values and len(self.plan.problems) == before:
                    self.problem(action, f"{target.object}.{matching}",
                                 f"the matching attribute {matching} has no value in this event",
                                 hint="an assert needs the value it matches on")
            laid_out.append((target, matching, values))
        if len(self.plan.problems) > before or len(laid_out) < len(targets):
            return
        first = len(self.plan.writes)
        for target, matching, values in laid_out:
            self.write(action, target.object, matching, self.linked(values, target, targets, first))

    def fill(self, action: Action, target: Target, fill: Fill, targets: tuple[Target, ...],
             matched: dict[str, list[Any] | None]) -> list[Any] | None:
        """The value of an attribute the action fills itself; None when there is none (or a problem)."""
        if fill.links_to is not None and any(t.object == fill.links_to for t in targets):
            return None  # a link to a record of this event: `linked` puts it in once the writes exist
        if fill.field in matched and matched[fill.field] is None:
            return None  # the field's own value failed: said once, there
        found, raw = getattr(action, fill.field).resolve(self.event)
        if not found or raw in (None, ""):
            return None  # an optional link without a value is left out
        if fill.links_to is None:
            return self.value(action, target.object, fill.slug, raw, f"{target.object}.{fill.slug}")
        attribute = shorthand_attribute(fill.links_to)
        if attribute is None:
            raise TypeError(f"{action.kind} links to {fill.links_to}, which has no shorthand attribute")
        value = self.value(action, fill.links_to, attribute, raw, f"{fill.links_to}.{attribute}")
        return None if value is None else [Lookup(fill.links_to, attribute, tuple(value))]

    @staticmethod
    def linked(values: dict[str, list[Any]], target: Target, targets: tuple[Target, ...],
               first: int) -> dict[str, list[Any]]:
        """`values` with each link to a record of this event pointing at its write."""
        for fill in target.fills:
            position = next((n for n, t in enumerate(targets) if t.object == fill.links_to), None)
            if position is not None:
                values[fill.slug] = [FromWrite(first + position, targets[position].object)]
        return values


def plan_event(event: dict[str, Any], mapping: EventMapping, schema: WorkspaceSchema) -> EventPlan:
    """The writes one event asks for under `mapping`, or why it cannot be sent."""
    planner = _Planner(event, schema)
    actions = mapping.actions_for(str(event.get("type")))
    if not actions:
        planner.plan.no_action = True
        return planner.plan
    for action in actions:
        planner.action(action)
    if planner.plan.problems:
        planner.plan.writes.clear()  # nothing is sent for an event with any problem
    return planner.plan
