"""The pre-flight check: hold a mapping against the cached schema before any event is read.

`check_mapping` finds everything the schema can reveal about a mapping: objects that are not
activated, attribute slugs that do not exist (with the closest ones), archived or read-only
attributes, matching attributes that are not unique, record references that cannot point
where the action links, required attributes the mapping leaves unfilled, and literal values
that fail their attribute type. Each is a `Finding`: an ``error`` when the sync would fail,
a ``warning`` when it might. `sync` refuses to start on any error.

`check_events` tries a mapping on a sample of real events: for each action and field, how
many events carry a value and how many of those values pass their attribute type, with the
first failing lines; `sample_events` reads a JSON-lines file for it.

What each action writes is declared by its kind (`toolkit.actions`): the check walks its
targets, their matching attributes, mapped attributes and the attributes and links the action
fills itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import phonenumbers

from .actions import Action, Target
from .events import read_events as _read_stream
from .mapping import EventMapping
from .pull import ACTIVATION_HINTS
from .schema import ACTIVATABLE_OBJECTS, AttributeInfo, ObjectInfo, WorkspaceSchema
from .sources import Source
from .values import ValueOptions, prepare
from .values.references import ReferenceIndex, shorthand_attribute
from .values.result import closest

__all__ = [
    "MAPPING",
    "STALE_AFTER",
    "EventsReport",
    "FieldTally",
    "Finding",
    "Unreadable",
    "check_events",
    "check_mapping",
    "sample_events",
    "sort_findings",
    "value_options",
]

Level = Literal["error", "warning"]

#: The `action` of findings about the mapping as a whole (the schema cache, the sample file).
MAPPING = "mapping"
#: A cached schema older than this gets a warning.
STALE_AFTER = timedelta(days=1)

#: Segment's event types: an `on` close to one of these but not equal is surely a typo.
EVENT_TYPES = ("alias", "group", "identify", "page", "screen", "track")

#: Standard relationship attributes, and the object whose activation makes each appear.
STANDARD_RELATIONSHIPS = {
    ("users", "workspace"): "workspaces",
    ("users", "person"): "people",
    ("workspaces", "users"): "users",
    ("workspaces", "company"): "companies",
    ("people", "associated_users"): "users",
    ("people", "associated_deals"): "deals",
    ("companies", "associated_workspaces"): "workspaces",
    ("companies", "associated_deals"): "deals",
}

#: Objects on which Attio allows no unique custom attribute ("Cannot set attribute as unique":
#: api-notes 3.1 and 10), with the unique standard attribute each has instead: there, a hint to
#: "mark it unique" names a fix Attio refuses.
NO_UNIQUE_CUSTOM = {"people": "email_addresses", "companies": "domains"}

#: Standard objects by their singular noun: Segment's assert-record defaults to "person".
SINGULAR_NOUNS = {"person": "people", "company": "companies", "user": "users", "workspace": "workspaces",
                  "deal": "deals"}

_OBJECTS_PAGE = "Workspace settings > Objects"
_PULL_AGAIN = "then run `attio-sync schema pull`"


@dataclass(frozen=True)
class Finding:
    """One thing the check found.

    Attributes:
        level: ``"error"`` (the sync would fail) or ``"warning"`` (it might).
        action: which action, as ``"action 1 (identify-user)"``, or ``"mapping"``.
        field: the mapping field at fault: ``"user_attributes.workspace"``, ``"object"``...
        message: what is wrong.
        hint: what to change, when known.
    """

    level: Level
    action: str
    field: str
    message: str
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON: ``{level, action, field, message, hint}``."""
        return {"level": self.level, "action": self.action, "field": self.field,
                "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        text = f"{self.level}: {self.action}: {self.field}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Grouped by action (the mapping first, then actions in file order), errors first in each."""
    def key(finding: Finding) -> tuple[int, int, int]:
        group = 0 if finding.action == MAPPING else 1
        number = finding.action.split()[1] if finding.action.startswith("action ") else "0"
        return group, int(number) if number.isdigit() else 0, 0 if finding.level == "error" else 1
    return sorted(findings, key=key)


def value_options(action: Action) -> ValueOptions:
    """The value-validation options an action's values are prepared with."""
    return ValueOptions(phone_region=action.options.phone_region, nulls=action.options.nulls)


def check_mapping(
    mapping: EventMapping,
    schema: WorkspaceSchema | None,
    *,
    pulled_at: datetime | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """Every problem the cached schema reveals in a mapping, sorted by `sort_findings`.

    Args:
        mapping: the parsed mapping (`load_mapping`, or `default_mapping()`).
        schema: the cached schema; None when the cache holds none (one error says to pull).
        pulled_at: when the schema was pulled; older than `STALE_AFTER` gives a warning.
        now: the current time (tests pass a fixed one); defaults to the clock, in UTC.

    Returns:
        The findings; no finding means the mapping fits the schema.
    """
    if schema is None:
        return [Finding("error", MAPPING, "schema", "the cache holds no workspace schema, so nothing can be checked",
                        "run `attio-sync schema pull` (or `attio-sync check --pull`) first")]
    findings: list[Finding] = []
    if pulled_at is not None:
        findings.extend(_age(pulled_at, now))
    for action in mapping.actions:
        findings.extend(_ActionCheck(action, schema).run())
    return sort_findings(findings)


def _age(pulled_at: datetime, now: datetime | None) -> list[Finding]:
    if pulled_at.tzinfo is None:
        pulled_at = pulled_at.replace(tzinfo=UTC)  # the cache stores UTC
    age = (now or datetime.now(UTC)) - pulled_at
    if age <= STALE_AFTER:
        return []
    hours = age.total_seconds() / 3600
    told = f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"
    return [Finding("warning", MAPPING, "schema",
                    f"the cached schema is {told} old (pulled {pulled_at:%Y-%m-%d %H:%M} UTC): attributes made "
                    "or changed in Attio since then are not seen",
                    "pass --pull to refresh it first, or run `attio-sync schema pull`")]


# -- the check of one action ----------------------------------------------------------------


class _ActionCheck:
    """Collects the findings of one action."""

    def __init__(self, action: Action, schema: WorkspaceSchema) -> None:
        self.action = action
        self.schema = schema
        self.options = value_options(action)
        self.targets = action.targets()
        self.findings: list[Finding] = []
        self.literals_checked: set[str] = set()

    def add(self, level: Level, where: str, message: str, hint: str | None = None) -> None:
        self.findings.append(Finding(level, self.action.name, where, message, hint))

    def run(self) -> list[Finding]:
        self.check_options()
        self.check_on()
        for target, _, source_field, points_at in self.lookups():
            if not self.schema.is_activated(points_at):
                off = type(self.action).may_be_off(source_field)
                self.add("error", source_field, f"the action links each {target.role} to the event's "
                         f"{_singular(points_at)}, but the {points_at} object is not activated",
                         f"Activate {points_at.capitalize()} in Attio under {_OBJECTS_PAGE}"
                         + (f", or write {source_field} = false to leave {off} out" if off else ""))
        for target in self.targets:
            self.check_target(target)
        return self.findings

    def lookups(self) -> list[tuple[Target, str, str, str]]:
        """Links the action makes to records it does not assert itself, found by a field's value:
        (target, link attribute, source field, object pointed at)."""
        own = {t.object for t in self.targets}
        return [(t, f.slug, f.field, f.links_to) for t in self.targets for f in t.fills
                if f.links_to is not None and f.links_to not in own]

    def check_options(self) -> None:
        if self.action.options.multiselect == "replace":
            links = [(f"{t.object}.{slug}", t.role, points_at) for t, slug, _, points_at in self.lookups()]
            for target in self.targets:
                for slug in target.attributes:
                    attribute = self.schema.find_attribute(target.object, slug)
                    points_at = STANDARD_RELATIONSHIPS.get((target.object, slug))
                    if points_at and attribute is not None and attribute.is_multiselect:
                        links.append((f"{target.object}.{attribute.api_slug}", target.role, points_at))
            for name, record, others in links:
                self.add("warning", "multiselect", f"with multiselect = \"replace\", each event sets {name} to "
                         f"its one {_singular(others)}, removing the {record}'s other {others}",
                         'leave multiselect at "append" (the default) for this action')
        region = self.action.options.phone_region
        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            self.add("error", "phone_region", f"{region!r} is not a country phone numbers can be read for",
                     "use an ISO 3166 two-letter code such as US, GB or DE")

    def check_on(self) -> None:
        for event_type in self.action.on:
            near = closest(event_type, EVENT_TYPES, n=1)
            if event_type not in EVENT_TYPES and near:
                self.add("warning", "on", f"no Segment event has the type {event_type!r}",
                         f"did you mean {near[0]!r}?")

    # -- objects and matching --------------------------------------------------------------

    def find_object(self, target: Target) -> ObjectInfo | None:
        where = target.named_by[0] if target.named_by else target.map_field
        found = self.schema.find_object(target.object)
        if found is not None:
            return found
        word = target.object.casefold()
        by_noun = [o for o in self.schema.objects
                   if word in {(o.singular_noun or "").casefold(), (o.plural_noun or "").casefold()}
                   or SINGULAR_NOUNS.get(word) == o.api_slug]
        if target.object in ACTIVATABLE_OBJECTS:
            self.add("error", where, f"the {target.object} object is not activated in the workspace, so {target.role}s "
                     "cannot be asserted", _activation_hint(target.object))
        elif by_noun:
            self.add("error", where, f"no object has the slug {target.object!r}; objects are named by slug",
                     f"did you mean {by_noun[0].api_slug!r}?")
        else:
            slugs = [o.api_slug for o in self.schema.objects]
            near = closest(target.object, slugs)
            self.add("error", where, f"no object {target.object!r} in the workspace (the cached schema has "
                     f"{', '.join(slugs)})",
                     _did_you_mean(near, f"create or activate it in Attio under {_OBJECTS_PAGE}, {_PULL_AGAIN}"))
        return None

    def check_target(self, target: Target) -> None:
        obj = self.find_object(target)
        if obj is None:
            return
        mapped = self.check_map(target, obj)
        self.check_matching(target, obj, mapped)
        for slug, source_field in target.builtin.items():
            if slug in target.links or slug == target.matching:
                continue
            attribute = self.attribute(obj, slug, source_field, builtin=True)
            source = getattr(self.action, source_field)
            if attribute is not None and source.is_literal:
                self.check_literal(source_field, source.literal, attribute)
        for slug, points_at in target.links.items():
            self.check_link(obj, slug, points_at, target.builtin[slug])
        self.check_required(target, obj, mapped)

    def check_matching(self, target: Target, obj: ObjectInfo, mapped: dict[str, str]) -> None:
        where = target.matching_field or (target.named_by[1] if target.named_by else target.map_field)
        attribute = self.attribute(obj, target.matching, where, builtin=target.matching_field is not None)
        if attribute is None:
            return
        source = getattr(self.action, target.matching_field) if target.matching_field else None
        if source is not None and source.is_literal:
            self.check_literal(where, source.literal, attribute)
        if not attribute.is_unique:
            self.add("error", where, f"{obj.api_slug}.{attribute.api_slug} is not unique, so Attio refuses to match "
                     f"{target.role}s on it", self.unique_hint(obj.api_slug, attribute.api_slug))
        if target.matching_field is None and attribute.api_slug not in mapped.values():
            self.add("error", where, f"the matching attribute {target.matching!r} has no value in [action.attributes], "
                     "so there is nothing to match records on",
                     f'add {attribute.api_slug} = "$.traits..." to [action.attributes]')

    # -- attributes ------------------------------------------------------------------------

    def attribute(self, obj: ObjectInfo, slug: str, where: str, *, builtin: bool = False) -> AttributeInfo | None:
        """The attribute, or None after a finding saying why it cannot be written."""
        attribute = self.schema.find_attribute(obj.api_slug, slug)
        hidden_until = STANDARD_RELATIONSHIPS.get((obj.api_slug, slug))
        if attribute is None and hidden_until and not self.schema.is_activated(hidden_until):
            self.add("error", where, f"{obj.api_slug}.{slug} links to {hidden_until}, which is not activated, so "
                     "Attio does not offer the attribute", _activation_hint(hidden_until))
            return None
        if attribute is None:
            near = _near_slugs(slug, [a for a in self.schema.attributes_of(obj.api_slug) if not a.is_archived])
            otherwise = (f"create it in Attio under {_OBJECTS_PAGE} > {obj.plural_noun or obj.api_slug} > "
                         f"Attributes, {_PULL_AGAIN}")
            what = ", which the action writes itself" if builtin else ""
            self.add("error", where, f"{obj.api_slug} has no attribute {slug!r}{what}", _did_you_mean(near, otherwise))
            return None
        name = f"{obj.api_slug}.{attribute.api_slug}"
        if attribute.is_archived:
            self.add("error", where, f"{name} is archived", "unarchive it in Attio, or map the value elsewhere")
            return None
        if attribute.type == "interaction" or not attribute.is_writable:
            self.add("error", where, f"{name} is not writable: Attio fills it itself", "map the value elsewhere")
            return None
        return attribute

    def check_map(self, target: Target, obj: ObjectInfo) -> dict[str, str]:
        """Check each mapped attribute; returns mapped key -> attribute slug for those found."""
        found: dict[str, str] = {}
        for slug, source in target.attributes.items():
            where = f"{target.map_field}.{slug}"
            attribute = self.attribute(obj, slug, where)
            if attribute is None:
                continue
            found[slug] = attribute.api_slug
            if attribute.api_slug in target.builtin:
                self.add("warning", where, f"{obj.api_slug}.{attribute.api_slug} is written by the action itself "
                         f"(from {target.builtin[attribute.api_slug]}); this value replaces that one",
                         "leave it out unless the replacement is meant")
            links_to = STANDARD_RELATIONSHIPS.get((obj.api_slug, attribute.api_slug))
            if links_to is not None and attribute.type == "record-reference":
                self.check_allows(attribute, links_to, where)
            if source.is_literal:
                self.check_literal(where, source.literal, attribute)
            elif attribute.type == "record-reference":
                self.check_reference_path(where, attribute)
        return found

    def check_literal(self, where: str, literal: Any, attribute: AttributeInfo) -> None:
        if where in self.literals_checked:
            return  # one literal email fills two attributes of one type: say it once
        self.literals_checked.add(where)
        prepared = prepare(literal, attribute, self.schema, options=self.options)
        for problem in prepared.problems:
            self.add("error", where, f"the literal {problem.input!r} does not fit {problem.attribute}: "
                     f"{problem.reason} (expected {problem.expected})", problem.hint)
        for warning in prepared.warnings:
            self.add("warning", where, f"the literal {literal!r}: {warning}")

    def check_reference_path(self, where: str, attribute: AttributeInfo) -> None:
        """A reference read from the event is usually a string: the shorthand must apply."""
        name = f"{attribute.object_slug}.{attribute.api_slug}"
        index = ReferenceIndex.build(attribute, self.schema)
        if not index.allowed:
            self.add("error", where, f"{name} may only point at objects that are not activated",
                     f"activate the object it points at in Attio under {_OBJECTS_PAGE}, {_PULL_AGAIN}")
            return
        single = index.single
        if single is None:
            self.add("warning", where, f"{name} may point at {index.names()}"
                     f"{' or any object' if index.any_object else ''}"
                     ", so a plain string from the event cannot say which: only full reference objects will pass",
                     "in Attio, limit the attribute to one object, or send "
                     '{"target_object": ..., "target_record_id": ...} in the event')
            return
        key = shorthand_attribute(single.api_slug)
        if key is None:
            self.add("warning", where, f"{name} points at {single.api_slug}, which is not a standard object, so a "
                     "string from the event must be a record id (UUID)", "send record ids, or reference objects")
            return
        matched = self.schema.find_attribute(single.api_slug, key)
        if matched is None or not matched.is_unique or matched.is_archived:
            hint = (self.unique_hint(single.api_slug, key, others=False) if matched is not None and not
                    matched.is_archived else f"restore {single.api_slug}.{key} in Attio, {_PULL_AGAIN}")  # fmt: skip
            self.add("error", where, f"{name} is written by {single.api_slug}.{key}, which is missing, archived or "
                     "not unique, so no record can be found by it", hint)

    def unique_hint(self, obj: str, slug: str, *, others: bool = True) -> str:
        """How to give `obj` a unique attribute to match on, in a way Attio allows.

        On most objects: mark `slug` unique (or match on a unique one there is). People and
        companies take no unique custom attribute (api-notes 3.1), so there the hint names their
        unique standard attribute, or another object where a unique attribute can be made.
        """
        unique = [a.api_slug for a in self.schema.attributes_of(obj)
                  if a.is_unique and a.is_writable and not a.is_archived and a.api_slug != slug]  # fmt: skip
        if obj not in NO_UNIQUE_CUSTOM:
            return "mark it unique in Attio (the attribute's settings)" + (
                f", or match on {' or '.join(unique)}" if unique and others else "")
        elsewhere = ("or keep these records in an object that can have a unique custom attribute (a custom object, "
                     "or users, workspaces or deals)")
        standard = NO_UNIQUE_CUSTOM[obj]
        if slug == standard:
            return (f"Attio keeps {obj}.{standard} unique and allows no unique custom attribute on {obj}: pull the "
                    f"schema again (`attio-sync schema pull`) in case the cached one is stale, {elsewhere}")
        instead = " or ".join(unique) if unique and others else standard
        return (f"Attio allows no unique custom attribute on {obj}, so {slug} cannot be made unique: match on "
                f"{instead}, the unique standard attribute, {elsewhere}, with {slug} unique there")

    def check_link(self, obj: ObjectInfo, slug: str, points_at: str, source_field: str) -> None:
        if not self.schema.is_activated(points_at):
            return  # said where that object is needed; Attio hides the attribute until then
        attribute = self.attribute(obj, slug, source_field, builtin=True)
        if attribute is None:
            return
        name = f"{obj.api_slug}.{slug}"
        if attribute.type != "record-reference":
            self.add("error", source_field,
                     f"{name} is a {attribute.type} attribute, not a record reference to {points_at}",
                     f"the action links {obj.api_slug} to {points_at} through {name}")
            return
        self.check_allows(attribute, points_at, source_field)

    def check_allows(self, attribute: AttributeInfo, points_at: str, where: str) -> None:
        """A link the action makes (or a standard relationship mapped) must be allowed to point there."""
        target = self.schema.find_object(points_at)
        allowed = attribute.allowed_object_ids
        if target is None or not allowed or target.object_id in allowed:
            return
        name = f"{attribute.object_slug}.{attribute.api_slug}"
        names = ", ".join(o.api_slug if (o := self.schema.find_object(i)) else "(an object not activated)"
                          for i in allowed)
        self.add("error", where, f"{name} links {attribute.object_slug} to {points_at}, but in this workspace it may "
                 f"only point at {names}", f"in Attio, let {name} reference {target.plural_noun or points_at}")

    def check_required(self, target: Target, obj: ObjectInfo, mapped: dict[str, str]) -> None:
        filled = set(target.builtin) | set(mapped.values())
        for attribute in self.schema.attributes_of(obj.api_slug):
            if (attribute.is_required and not attribute.is_archived and attribute.is_writable
                    and not attribute.is_default_value_enabled and attribute.api_slug not in filled):
                self.add("error", target.map_field,
                         f"{obj.api_slug} requires {attribute.api_slug!r} ({attribute.title}), which this action does "
                         f"not fill: creating a {target.role} would fail",
                         f'add {attribute.api_slug} = "$.traits..." to [action.{target.map_field}]')


def _activation_hint(slug: str) -> str:
    hint = ACTIVATION_HINTS.get(slug)
    if hint is None:
        return f"activate it in Attio under {_OBJECTS_PAGE}, {_PULL_AGAIN}"
    # ACTIVATION_HINTS says what is blocked, then "Activate ... ."; keep the instruction.
    start = hint.find("Activate")
    return (hint[start:] if start >= 0 else hint) + " Then run `attio-sync schema pull`."


def _singular(plural: str) -> str:
    """"users" -> "user": the noun of one record of a standard object."""
    return next((noun for noun, slug in SINGULAR_NOUNS.items() if slug == plural), plural)


def _near_slugs(word: str, attributes: Iterable[AttributeInfo]) -> list[str]:
    """Slugs like `word`: close in spelling, starting with it, or titled like it."""
    listed = list(attributes)
    slugs = [a.api_slug for a in listed]
    near = closest(word, slugs)
    folded = word.casefold()
    for attribute in listed:
        slug = attribute.api_slug
        if slug not in near and (slug.startswith(folded) or attribute.title.casefold() == folded.replace("_", " ")):
            near.append(slug)
    return near[:3]


def _did_you_mean(near: list[str], otherwise: str) -> str:
    return "did you mean " + " or ".join(repr(n) for n in near) + "?" if near else otherwise


# -- trying a mapping on sample events --------------------------------------------------------

#: Failing lines kept per field (the counts cover them all).
MAX_FAILING_LINES = 5


@dataclass(frozen=True)
class Unreadable:
    """A line of an events file that could not be read as JSON."""

    reason: str


def sample_events(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, event)`` for each event of a JSON-lines or JSON-array file.

    The file is read by `toolkit.events.read_events`, the sync's own reader, so a sample is
    read exactly as a sync would read it; a line it cannot use comes through as an
    `Unreadable` (which `check_events` counts apart), never as an exception.
    """
    with open(path, "rb") as stream:
        for item in _read_stream(stream):
            if item.event is not None:
                yield item.line, item.event
            else:
                yield item.line, Unreadable(item.problem or "unreadable")


@dataclass
class FieldTally:
    """How one mapped field of one action fared across the sample.

    Attributes:
        action: the action's name; field: the mapping field; source: its paths.
        attribute: ``object.slug`` the values were checked against (None: presence only).
        required: the action cannot run for an event without it (a matching value).
        taken: events the action took; present: those with a value at the paths;
        valid: those whose value passed its attribute type (None when not checked);
        failed: events that would be invalid because of this field;
        failing: the first `MAX_FAILING_LINES` of them as ``(line, reason)``.
    """

    action: str
    field: str
    source: str
    attribute: str | None
    required: bool
    taken: int = 0
    present: int = 0
    valid: int | None = None
    failed: int = 0
    # `field` is a column name here, so the dataclass helper goes by its module's name.
    failing: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def fail(self, line: int, reason: str) -> None:
        self.failed += 1
        if len(self.failing) < MAX_FAILING_LINES:
            self.failing.append((line, reason))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"action": self.action, "field": self.field, "source": self.source, "attribute": self.attribute,
                "required": self.required, "taken": self.taken, "present": self.present, "valid": self.valid,
                "failed": self.failed, "failing": [{"line": n, "reason": r} for n, r in self.failing]}


@dataclass
class EventsReport:
    """What `check_events` found: per-field tallies and the lines it could not use."""

    lines: int = 0
    not_objects: int = 0
    not_object_lines: list[tuple[int, str]] = field(default_factory=list)
    untaken: dict[str, int] = field(default_factory=dict)
    fields: list[FieldTally] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        """Errors for a required field no event fills validly; warnings for fields some events fail."""
        found: list[Finding] = []
        if self.not_objects:
            lines = "; ".join(f"line {n}: {r}" for n, r in self.not_object_lines)
            found.append(Finding("warning", MAPPING, "events", f"{self.not_objects} of {self.lines} lines are not "
                                 f"JSON objects ({lines})", "each line must hold one event object"))
        if self.lines and not any(t.taken for t in self.fields) and self.untaken:
            seen = ", ".join(f"{k} ({v})" for k, v in self.untaken.items())
            found.append(Finding("warning", MAPPING, "events", f"no action takes any event of the sample; its "
                                 f"types are {seen}", "check the actions' `on`"))
        for tally in self.fields:
            if not tally.taken:
                continue
            lines = "; ".join(f"line {n}: {r}" for n, r in tally.failing)
            usable = tally.valid if tally.valid is not None else tally.present
            if tally.required and usable == 0:
                found.append(Finding("error", tally.action, tally.field,
                                     f"none of the {tally.taken} events the action took has a usable value at "
                                     f"{tally.source} ({lines})", "check the path against the events"))
            elif tally.failed:
                found.append(Finding("warning", tally.action, tally.field,
                                     f"{tally.failed} of {tally.taken} events would be invalid ({lines})"))
        return sort_findings(found)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"lines": self.lines, "not_objects": self.not_objects,
                "not_object_lines": [{"line": n, "reason": r} for n, r in self.not_object_lines],
                "untaken": dict(self.untaken), "fields": [t.as_dict() for t in self.fields]}


def _tallies(action: Action, schema: WorkspaceSchema | None) -> list[tuple[FieldTally, Source, AttributeInfo | None]]:
    """The fields of an action read from events, with the attribute each is checked against."""
    def attribute(obj: str, slug: str) -> AttributeInfo | None:
        if schema is None:
            return None
        found = schema.find_attribute(obj, slug)
        usable = found is not None and not found.is_archived and found.is_writable
        return found if usable else None

    targets = action.targets()
    matching_fields = {t.matching_field for t in targets}
    own = {t.object for t in targets}
    rows: list[tuple[str, Source, AttributeInfo | None, bool]] = []
    for target in targets:
        if target.matching_field is not None:
            rows.append((target.matching_field, getattr(action, target.matching_field),
                         attribute(target.object, target.matching), True))
        for fill in target.fills:  # a field read only for a link to a record found by it
            if fill.links_to is not None and fill.links_to not in own and fill.field not in matching_fields:
                key = shorthand_attribute(fill.links_to)
                rows.append((fill.field, getattr(action, fill.field),
                             attribute(fill.links_to, key) if key else None, False))
        for slug, source in target.attributes.items():
            checked = attribute(target.object, slug)
            is_matching = target.matching_field is None and (
                slug == target.matching or (checked is not None and checked.api_slug == target.matching))
            rows.append((f"{target.map_field}.{slug}", source, checked, is_matching))
    return [(FieldTally(action.name, name, source.describe(),
                        f"{found.object_slug}.{found.api_slug}" if found else None, required,
                        valid=0 if found else None), source, found)
            for name, source, found, required in rows if not source.is_literal and source.is_set]


def check_events(mapping: EventMapping, schema: WorkspaceSchema | None,
                 events: Iterable[tuple[int, Any]]) -> EventsReport:
    """Try a mapping on sample events: per action and field, presence and validity.

    Args:
        mapping: the mapping to try.
        schema: the cached schema the values are checked against; None checks presence only.
        events: ``(line number, parsed event)`` pairs, as `sample_events` gives them; anything
            that is not a JSON object (an `Unreadable` line, a list) is counted apart.

    Returns:
        An `EventsReport`; its `findings()` go with `check_mapping`'s.
    """
    report = EventsReport()
    plans = {action.index: _tallies(action, schema) for action in mapping.actions}
    report.fields = [tally for action in mapping.actions for tally, _, _ in plans[action.index]]
    for line, event in events:
        report.lines += 1
        if not isinstance(event, dict):
            report.not_objects += 1
            if len(report.not_object_lines) < MAX_FAILING_LINES:
                reason = event.reason if isinstance(event, Unreadable) else f"a JSON {type(event).__name__}"
                report.not_object_lines.append((line, reason))
            continue
        event_type = event.get("type")
        actions = mapping.actions_for(event_type) if isinstance(event_type, str) else ()
        if not actions:
            label = event_type if isinstance(event_type, str) else "(no type)"
            report.untaken[label] = report.untaken.get(label, 0) + 1
        for action in actions:
            options = value_options(action)
            for tally, source, attribute in plans[action.index]:
                _tally_one(tally, source, attribute, schema, options, line, event)
    return report


def _tally_one(tally: FieldTally, source: Source, attribute: AttributeInfo | None, schema: WorkspaceSchema | None,
               options: ValueOptions, line: int, event: dict[str, Any]) -> None:
    tally.taken += 1
    found, value = source.resolve(event)
    if not found:
        if tally.required:
            tally.fail(line, f"no value at {tally.source}")
        return
    tally.present += 1
    if value is None and tally.required:
        tally.fail(line, f"null at {tally.source}")
        return
    if attribute is None or schema is None or tally.valid is None:
        return
    prepared = prepare(value, attribute, schema, options=options)
    if prepared.ok:
        tally.valid += 1
    else:
        tally.fail(line, "; ".join(p.reason + (f" ({p.hint})" if p.hint else "") for p in prepared.problems))
