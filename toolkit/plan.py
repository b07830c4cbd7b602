"""Planning: one event and the mapping's actions → the writes to send, or every problem.

Nothing here talks to Attio. Every value is mapped from the event and prepared by
`toolkit.values` (so an invalid one is caught here, with the others), and the writes are laid
out in the order they must go:

- identify-user: assert the person on `email_addresses`; assert the user on `user_id` with
  `primary_email_address` and `person` pointing at the person just asserted.
- group-workspace: assert the company on `domains`; assert the workspace on `workspace_id`
  with `company` pointing at it; add the event's user (when it has a userId) to `users`.
- assert-record: one assert on the action's matching attribute.

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

from .mapping import Action, AssertRecord, EventMapping, GroupWorkspace, IdentifyUser, Source
from .schema import WorkspaceSchema
from .values import Prepared, ValueOptions, prepare
from .values.result import preview

__all__ = ["TIME_KEYS", "EventPlan", "EventTimeError", "FromWrite", "Lookup", "Write", "event_time", "plan_event"]

#: The attribute a string or id reference uses to find a record of each standard object.
LOOKUP_ATTRIBUTES = {"people": "email_addresses", "companies": "domains", "users": "user_id",
                     "workspaces": "workspace_id"}


def match_key(write_form: list[Any]) -> str:
    """The canonical text of a matching value: equal values, equal keys."""
    return json.dumps(write_form, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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

    def required(self, action: Action, source: Source, obj: str, slug: str, label: str) -> list[Any] | None:
        found, raw = source.resolve(self.event)
        if not found or raw is None or raw == "":
            self.problem(action, label, f"no {label}: {source.describe()} is not in the event",
                         hint=f"send it, or map {label} to where the event carries it")
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

    # -- the three actions -----------------------------------------------------------------

    def identify_user(self, action: IdentifyUser) -> None:
        email = self.required(action, action.email, "people", "email_addresses", "email")
        user_id = self.required(action, action.user_id, "users", "user_id", "user_id")
        person = self.attributes(action, "people", action.person_attributes)
        user = self.attributes(action, "users", action.user_attributes)
        primary = None
        if email is not None:
            _, raw_email = action.email.resolve(self.event)
            primary = self.value(action, "users", "primary_email_address", raw_email, "users.primary_email_address")
        if email is None or user_id is None or primary is None:
            return
        first = len(self.plan.writes)
        self.write(action, "people", "email_addresses", {**person, "email_addresses": email})
        built = {"user_id": user_id, "primary_email_address": primary, "person": [FromWrite(first, "people")]}
        self.write(action, "users", "user_id", {**user, **built})

    def group_workspace(self, action: GroupWorkspace) -> None:
        domain = self.required(action, action.domain, "companies", "domains", "domain")
        workspace_id = self.required(action, action.workspace_id, "workspaces", "workspace_id", "workspace_id")
        company = self.attributes(action, "companies", action.company_attributes)
        workspace = self.attributes(action, "workspaces", action.workspace_attributes)
        found, raw_user = action.user_id.resolve(self.event)
        user: list[Any] | None = None
        if found and raw_user not in (None, ""):
            user = self.value(action, "users", "user_id", raw_user, "users.user_id")
        if domain is None or workspace_id is None or (found and raw_user not in (None, "") and user is None):
            return
        first = len(self.plan.writes)
        self.write(action, "companies", "domains", {**company, "domains": domain})
        built: dict[str, list[Any]] = {"workspace_id": workspace_id, "company": [FromWrite(first, "companies")]}
        if user is not None:
            built["users"] = [Lookup("users", "user_id", tuple(user))]
        self.write(action, "workspaces", "workspace_id", {**workspace, **built})

    def assert_record(self, action: AssertRecord) -> None:
        values = self.attributes(action, action.object, action.attributes)
        attribute = self.schema.find_attribute(action.object, action.matching_attribute)
        matching = attribute.api_slug if attribute else action.matching_attribute
        if matching not in values:
            if not any(p["action"] == action.name for p in self.plan.problems):
                self.problem(action, f"{action.object}.{matching}",
                             f"the matching attribute {matching} has no value in this event",
                             hint="an assert needs the value it matches on")
            return
        if any(p["action"] == action.name for p in self.plan.problems):
            return
        self.write(action, action.object, matching, values)


def plan_event(event: dict[str, Any], mapping: EventMapping, schema: WorkspaceSchema) -> EventPlan:
    """The writes one event asks for under `mapping`, or why it cannot be sent."""
    planner = _Planner(event, schema)
    actions = mapping.actions_for(str(event.get("type")))
    if not actions:
        planner.plan.no_action = True
        return planner.plan
    for action in actions:
        if isinstance(action, IdentifyUser):
            planner.identify_user(action)
        elif isinstance(action, GroupWorkspace):
            planner.group_workspace(action)
        elif isinstance(action, AssertRecord):
            planner.assert_record(action)
    if planner.plan.problems:
        planner.plan.writes.clear()  # nothing is sent for an event with any problem
    return planner.plan
