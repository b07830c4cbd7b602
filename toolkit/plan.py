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

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from .actions import Action, Fill, Target
from .jsontext import canonical_json, json_string
from .mapping import EventMapping
from .schema import AttributeInfo, WorkspaceSchema
from .sources import MISSING
from .values import Prepared, ValueOptions, comparison_form, prepare
from .values.core import FastPath, fast_path
from .values.references import shorthand_attribute
from .values.result import preview

__all__ = ["TIME_KEYS", "EventPlan", "EventTimeError", "FromWrite", "Lookup", "Write", "event_time", "plan_event"]

_T = TypeVar("_T")


class _once(Generic[_T]):  # noqa: N801 (named as the decorator it stands for)
    """`functools.cached_property` without its lock, which Python 3.11 takes on the first read
    of every instance: a third of what making a write's key cost."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__

    def __get__(self, instance: object, owner: type | None = None) -> _T:
        value = instance.__dict__[self.name] = self.func(instance)  # read from there next time
        return value


def match_key(write_form: list[Any]) -> str:
    """The canonical text of a matching value: values Attio takes as equal (emails of any case),
    equal keys."""
    if len(write_form) == 1:  # most are one text, or one object of one text, made here directly
        item = write_form[0]
        if type(item) is str:
            return f"[{json_string(item)}]"
        if type(item) is dict and len(item) == 1:
            ((name, value),) = item.items()
            if type(name) is str and type(value) is str and (name != "email_address" or value == value.lower()):
                return f"[{{{json_string(name)}:{json_string(value)}}}]"
    text = canonical_json(write_form)
    # `comparison_form` only lower-cases email addresses: a text with none, or with nothing
    # to lower-case, is already the key (most are: user ids, domains, typed-lower emails).
    if '"email_address":' not in text or text == text.lower():
        return text
    return canonical_json(comparison_form(write_form))


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

    @_once
    def key(self) -> tuple[str, str]:
        """The record state's key of the record referred to (made once: the sync asks often)."""
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

    @_once
    def key(self) -> tuple[str, str]:
        """The record state's key of the record written (made once, when the plan is complete)."""
        return (self.object, f"{self.matching_attribute}={match_key(self.values[self.matching_attribute])}")

    def lookups(self) -> list[Lookup]:
        return [item for forms in (*self.values.values(), *self.appends.values()) for item in forms
                if type(item) is Lookup]


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
        found = set()
        for write in self.writes:
            found.add(write.key)
            for lookup in write.lookups():
                found.add(lookup.key)
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


# -- what planning needs that depends only on the mapping and the schema -------------------------
#
# Worked out once per mapping and schema (both immutable) and kept while both live: each
# action's targets, the attribute each mapped value goes to with its fast path (see
# `toolkit.values.core.FAST`), a reader per source, the value options, the links and which
# attributes are multiselect. Planning an event then reads and checks its values, and little else.


@dataclass(frozen=True)
class _Value:
    """Where one value goes: the attribute (None when the schema has none), and its fast path."""

    obj: str
    slug: str
    label: str
    attribute: AttributeInfo | None
    fast: FastPath | None = None
    index: Any = None

    @classmethod
    def of(cls, obj: str, slug: str, schema: WorkspaceSchema) -> _Value:
        attribute = schema.find_attribute(obj, slug)
        try:
            found = fast_path(attribute, schema) if attribute is not None else None
        except Exception:  # an attribute no value can be prepared for: `prepare` raises, per value, as ever
            found = None
        if found is None:
            return cls(obj, slug, f"{obj}.{slug}", attribute)
        return cls(obj, slug, f"{obj}.{slug}", attribute, found[0], found[1])


@dataclass(frozen=True)
class _FillPlan:
    """An attribute the action fills itself on a target from the event (see `_Planner.fill`)."""

    fill: Fill
    get: Callable[[Any], Any]
    value: _Value | None  # None for a link to an object without a shorthand attribute


@dataclass(frozen=True)
class _TargetPlan:
    """One target of an action."""

    target: Target
    mapped: tuple[tuple[_Value, Callable[[Any], Any]], ...]
    fills: tuple[_FillPlan, ...]  # but the links to records of this event, which are:
    links: tuple[tuple[str, int, str], ...]  # (slug, position of the linked target, its object)
    matching: str  # for a target matched on a mapped attribute, that attribute's slug
    appendable: frozenset[str]  # the multiselect attributes it may write, but the matching one


class _ActionPlan:
    """One action of the mapping, against one schema (which it does not keep: see `_PlanCache`)."""

    def __init__(self, action: Action, schema: WorkspaceSchema) -> None:
        self.action = action
        self.name = action.name
        targets = action.targets()
        self.targets = targets
        self.options: ValueOptions | None
        try:
            self.options = ValueOptions(phone_region=action.options.phone_region, nulls=action.options.nulls)
        except Exception:  # options no mapping file can say: raised where a value is prepared, as ever
            self.options = None
        self.append = action.options.multiselect == "append"
        self.required: tuple[tuple[str, str, Callable[[Any], Any], _Value], ...] = tuple(
            (t.matching_field, getattr(action, t.matching_field).describe(), getattr(action, t.matching_field).getter(),
             _Value.of(t.object, t.matching, schema))
            for t in targets if t.matching_field is not None
        )
        self.plans = tuple(self._target(target, schema) for target in targets)

    def _target(self, target: Target, schema: WorkspaceSchema) -> _TargetPlan:
        mapped = tuple((_Value.of(target.object, slug, schema), source.getter())
                       for slug, source in target.attributes.items())
        fills, links = [], []
        for fill in target.fills:
            position = next((n for n, t in enumerate(self.targets) if t.object == fill.links_to), None)
            if position is not None:  # a link to a record this action asserts: made once the writes are
                links.append((fill.slug, position, self.targets[position].object))
                continue
            value: _Value | None = None
            if fill.links_to is None:
                value = _Value.of(target.object, fill.slug, schema)
            elif (shorthand := shorthand_attribute(fill.links_to)) is not None:
                value = _Value.of(fill.links_to, shorthand, schema)
            fills.append(_FillPlan(fill, getattr(self.action, fill.field).getter(), value))
        if target.matching_field is not None:
            matching = target.matching
        else:
            attribute = schema.find_attribute(target.object, target.matching)
            matching = attribute.api_slug if attribute else target.matching
        # The slugs a write of it can hold (mapped, filled, matching), but the matching one.
        slugs = {*target.attributes, *(f.slug for f in target.fills)} - {matching}
        appendable = {slug for slug in slugs if (a := schema.find_attribute(target.object, slug)) and a.is_multiselect}
        return _TargetPlan(target, mapped, tuple(fills), tuple(links), matching, frozenset(appendable))

    def value_options(self) -> ValueOptions:
        if self.options is not None:
            return self.options
        return ValueOptions(phone_region=self.action.options.phone_region, nulls=self.action.options.nulls)


class _MappingPlan:
    """Every action of a mapping against one schema, by the event types they take."""

    def __init__(self, mapping: EventMapping, schema: WorkspaceSchema) -> None:
        by_type: dict[str, list[_ActionPlan]] = {}
        for action in mapping.actions:
            plan = _ActionPlan(action, schema)
            for event_type in dict.fromkeys(action.on):
                by_type.setdefault(event_type, []).append(plan)
        self.by_type = {event_type: tuple(plans) for event_type, plans in by_type.items()}


class _PlanCache:
    """`_MappingPlan`s by mapping and schema, each dropped when either of the two is.

    A plan holds neither (only the actions, attributes and indexes it was made from), so a
    mapping that lives on does not keep the schemas it was planned against alive, nor the
    other way round.
    """

    def __init__(self) -> None:
        self._plans: dict[tuple[int, int], tuple[weakref.ref[EventMapping], weakref.ref[WorkspaceSchema],
                                                 _MappingPlan]] = {}

    def get(self, mapping: EventMapping, schema: WorkspaceSchema) -> _MappingPlan:
        key = (id(mapping), id(schema))
        entry = self._plans.get(key)
        if entry is not None and entry[0]() is mapping and entry[1]() is schema:
            return entry[2]
        plan = _MappingPlan(mapping, schema)

        def forget(_ref: object, key: tuple[int, int] = key) -> None:
            self._plans.pop(key, None)

        self._plans[key] = (weakref.ref(mapping, forget), weakref.ref(schema, forget), plan)
        return plan


_PLANS = _PlanCache()


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

    def problem(self, plan: _ActionPlan, field_name: str, reason: str, *, value: Any = None,
                hint: str | None = None) -> None:
        self.plan.problems.append({"action": plan.name, "field": field_name, "input": value,
                                   "reason": reason, "hint": hint})

    def value(self, plan: _ActionPlan, spec: _Value, raw: Any) -> list[Any] | None:
        """The write form of one value, or None (a skipped null, or a problem recorded)."""
        if spec.fast is not None and plan.options is not None:
            quick = spec.fast(raw, spec.index)
            if quick is not None:  # what `prepare` answers, without making its Prepared
                if quick[1] is not None:
                    self.plan.notes.append(f"{spec.label}: {quick[1]}")
                return [quick[0]]
        attribute = spec.attribute
        if attribute is None:
            self.problem(plan, spec.label, f"{spec.obj} has no attribute {spec.slug!r} in the cached schema",
                         value=raw, hint="run `attio-sync check` on the mapping")
            return None
        prepared: Prepared = prepare(raw, attribute, self.schema, options=plan.value_options(), fast=False)
        for problem in prepared.problems:
            self.problem(plan, spec.label, problem.reason, value=problem.input, hint=problem.hint)
        self.plan.notes.extend(f"{spec.label}: {note}" for note in prepared.notes)
        self.plan.notes.extend(f"{spec.label}: warning: {warning}" for warning in prepared.warnings)
        if not prepared.ok or prepared.skip:
            return None
        return self.symbolic(list(prepared.value or []))

    @staticmethod
    def symbolic(forms: list[Any]) -> list[Any]:
        """Record references by a unique value become `Lookup`s, resolved when sending."""
        result: list[Any] = []
        for item in forms:
            if isinstance(item, dict) and "target_object" in item and "target_record_id" not in item:
                (attribute, value), = ((k, v) for k, v in item.items() if k != "target_object")
                result.append(Lookup(item["target_object"], attribute, tuple(value)))
            else:
                result.append(item)
        return result

    def write(self, plan: _ActionPlan, target: _TargetPlan, matching: str, values: dict[str, list[Any]]) -> None:
        """A write whose multiselect values move to `appends` in append mode."""
        write = Write(object=target.target.object, matching_attribute=matching, values=values, action=plan.name)
        if plan.append and target.appendable:
            appendable = target.appendable
            for slug in [slug for slug in values if slug in appendable]:
                if values[slug]:
                    write.appends[slug] = values.pop(slug)
        self.plan.writes.append(write)

    # -- one action, from what it declares ---------------------------------------------------

    def action(self, plan: _ActionPlan) -> None:
        """The writes of an action's targets, in order, or its problems (then no write)."""
        event, problems = self.event, self.plan.problems
        before = len(problems)
        # Matching values first, each read once: a fill from the same field reuses it.
        matched: dict[str, list[Any] | None] = {}
        for field_name, described, get, spec in plan.required:
            raw = get(event)
            if raw is MISSING or raw is None or raw == "":
                self.problem(plan, field_name, f"no {field_name}: {described} is not in the event",
                             hint=f"send it, or map {field_name} to where the event carries it")
                matched[field_name] = None
            else:
                matched[field_name] = self.value(plan, spec, raw)
        laid_out: list[tuple[_TargetPlan, str, dict[str, list[Any]]]] = []
        for target in plan.plans:
            values: dict[str, list[Any]] = {}
            for spec, get in target.mapped:
                raw = get(event)
                # An absent trait is not an error: the attribute is left alone.
                if raw is not MISSING and (written := self.value(plan, spec, raw)) is not None:
                    values[spec.slug] = written
            for fill in target.fills:
                if (filled := self.fill(plan, fill, matched)) is not None:
                    values[fill.fill.slug] = filled
            matching = target.matching
            if target.target.matching_field is not None:
                value = matched[target.target.matching_field]
                if value is None:
                    continue
                values[matching] = value
            elif matching not in values and len(problems) == before:
                self.problem(plan, f"{target.target.object}.{matching}",
                             f"the matching attribute {matching} has no value in this event",
                             hint="an assert needs the value it matches on")
            laid_out.append((target, matching, values))
        if len(problems) > before or len(laid_out) < len(plan.plans):
            return
        first = len(self.plan.writes)
        for target, matching, values in laid_out:
            for slug, position, obj in target.links:  # each link to a record of this event, to its write
                values[slug] = [FromWrite(first + position, obj)]
            self.write(plan, target, matching, values)

    def fill(self, plan: _ActionPlan, fill: _FillPlan, matched: dict[str, list[Any] | None]) -> list[Any] | None:
        """The value of an attribute the action fills itself (not a link within the event); None
        when there is none (or a problem)."""
        field_name = fill.fill.field
        if field_name in matched and matched[field_name] is None:
            return None  # the field's own value failed: said once, there
        raw = fill.get(self.event)
        if raw is MISSING or raw in (None, ""):
            return None  # an optional link without a value is left out
        spec = fill.value
        if spec is None:
            raise TypeError(f"{plan.action.kind} links to {fill.fill.links_to}, which has no shorthand attribute")
        value = self.value(plan, spec, raw)
        if fill.fill.links_to is None or value is None:
            return value
        return [Lookup(spec.obj, spec.slug, tuple(value))]


def plan_event(event: dict[str, Any], mapping: EventMapping, schema: WorkspaceSchema) -> EventPlan:
    """The writes one event asks for under `mapping`, or why it cannot be sent."""
    planner = _Planner(event, schema)
    actions = _PLANS.get(mapping, schema).by_type.get(str(event.get("type")), ())
    if not actions:
        planner.plan.no_action = True
        return planner.plan
    for action in actions:
        planner.action(action)
    if planner.plan.problems:
        planner.plan.writes.clear()  # nothing is sent for an event with any problem
    return planner.plan
