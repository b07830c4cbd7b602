"""The entry points: `prepare` one value for one attribute, `check_value` for the CLI.

`prepare` applies the rules outside types first (archived, not writable, interaction, unknown
type), then the null policy, then the list rules (multiselect takes a list or one value;
single takes one value or a one-element list), and then the type's checker on each element,
collecting every problem rather than stopping at the first.

Per-attribute work that does not depend on the value (which checker, the option index, the
allowed objects) is done once per schema and attribute and kept in a `_AttributeRules`.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..schema import AttributeInfo, WorkspaceSchema
from .choices import ChoiceIndex, check_actor, check_select, check_status, fast_select, fast_status
from .contact import check_domain, check_email, check_phone, comparison_form, fast_email, fast_phone
from .references import ReferenceIndex, check_record_reference
from .result import DEFAULT_OPTIONS, EXPECTED, Context, Prepared, Problem, Quick, ValueOptions, did_you_mean, preview
from .scalars import (
    check_checkbox,
    check_currency,
    check_number,
    check_rating,
    check_text,
    fast_checkbox,
    fast_number,
    fast_text,
)
from .structured import check_location, check_personal_name, fast_name
from .temporal import check_date, check_timestamp, fast_date

__all__ = [
    "CHECKERS",
    "FAST",
    "PreparedRecord",
    "check_value",
    "fast_path",
    "prepare",
    "prepare_record",
    "prepare_slug",
]

Checker = Callable[[Any, Context], Any]
#: A fast path: the value and the attribute's index data -> `Quick` (see `toolkit.values.result`).
FastPath = Callable[[Any, Any], Quick]

#: Attribute type -> checker of one element. "pipeline" is the seed's name for status.
CHECKERS: dict[str, Checker] = {
    "actor-reference": check_actor,
    "checkbox": check_checkbox,
    "currency": check_currency,
    "date": check_date,
    "domain": check_domain,
    "email-address": check_email,
    "location": check_location,
    "number": check_number,
    "personal-name": check_personal_name,
    "phone-number": check_phone,
    "pipeline": check_status,
    "rating": check_rating,
    "record-reference": check_record_reference,
    "select": check_select,
    "status": check_status,
    "text": check_text,
    "timestamp": check_timestamp,
}

#: Fast paths for the common inputs: the same answer as the checker (the write form, and the one
#: note it makes, if any), with no Context; None where the checker has more to say.
FAST: dict[str, FastPath] = {
    "checkbox": fast_checkbox,
    "date": fast_date,
    "email-address": fast_email,
    "number": fast_number,
    "personal-name": fast_name,
    "phone-number": fast_phone,
    "pipeline": fast_status,
    "select": fast_select,
    "status": fast_status,
    "text": fast_text,
}

_INDEXES: dict[str, Callable[[AttributeInfo, WorkspaceSchema], Any]] = {
    "select": ChoiceIndex.for_select,
    "status": ChoiceIndex.for_status,
    "pipeline": ChoiceIndex.for_status,
    "record-reference": ReferenceIndex.build,
}


@dataclass(frozen=True)
class _AttributeRules:
    """What preparing a value for one attribute needs, worked out once."""

    attribute: AttributeInfo
    where: str
    expected: str
    checker: Checker | None
    fast: FastPath | None
    index_data: Any
    refusal: tuple[str, str | None] | None  # (reason, hint) when no value can be written


class _RulesCache:
    """Plans per schema, dropped with the schema (schemas are immutable snapshots)."""

    def __init__(self) -> None:
        self._by_schema: dict[int, tuple[weakref.ref[WorkspaceSchema], dict[str, _AttributeRules]]] = {}

    def get(self, attribute: AttributeInfo, schema: WorkspaceSchema) -> _AttributeRules:
        entry = self._by_schema.get(id(schema))
        if entry is None or entry[0]() is not schema:
            key = id(schema)

            def forget(_ref: weakref.ref[WorkspaceSchema], key: int = key) -> None:
                self._by_schema.pop(key, None)

            ref = weakref.ref(schema, forget)
            entry = (ref, {})
            self._by_schema[key] = entry
        plans = entry[1]
        plan = plans.get(attribute.attribute_id)
        # Tests and callers may pass an AttributeInfo that is not the schema's own object.
        if plan is None or plan.attribute is not attribute:
            plan = plans[attribute.attribute_id] = _make_plan(attribute, schema)
        return plan


_PLANS = _RulesCache()


def _make_plan(attribute: AttributeInfo, schema: WorkspaceSchema) -> _AttributeRules:
    kind = attribute.type
    expected = EXPECTED.get("status" if kind == "pipeline" else kind, f"{kind}: a type this toolkit does not know")
    refusal: tuple[str, str | None] | None = None
    if attribute.is_archived:
        # Whether Attio refuses writes to archived attributes is [unconfirmed] (api-notes 4.3):
        # a value there would be hidden in the UI either way, so we refuse (the safe side).
        refusal = ("the attribute is archived", "unarchive it in Attio, or map the value elsewhere")
    elif kind == "interaction":
        refusal = ("interaction attributes are not writable: only Attio creates them", None)
    elif not attribute.is_writable:
        refusal = ("the attribute is not writable through the API (Attio fills it)", "map the value elsewhere")
    elif kind not in CHECKERS:
        refusal = (f"the attribute type {kind!r} is not one this toolkit can check", None)
    build = _INDEXES.get(kind)
    return _AttributeRules(
        attribute=attribute,
        where=f"{attribute.object_slug}.{attribute.api_slug}",
        expected=expected,
        checker=CHECKERS.get(kind),
        fast=FAST.get(kind) if refusal is None else None,
        index_data=build(attribute, schema) if build and refusal is None else None,
        refusal=refusal,
    )


def fast_path(attribute: AttributeInfo, schema: WorkspaceSchema) -> tuple[FastPath, Any] | None:
    """The fast path `prepare` takes first for values of this attribute of `schema`, and the index
    data it is called with; None when there is none. ``fast(value, index_data)`` gives what
    `prepare` would (the one write form, and its note), or None: then `prepare` (``fast=False``)."""
    plan = _PLANS.get(attribute, schema)
    return None if plan.fast is None else (plan.fast, plan.index_data)


def prepare(
    value: Any,
    attribute: AttributeInfo,
    schema: WorkspaceSchema,
    *,
    options: ValueOptions | None = None,
    fast: bool = True,
) -> Prepared:
    """Check one mapped value against its attribute and turn it into Attio's write form.

    Never raises for bad input: every problem found is returned.

    Args:
        value: the value as mapped from the event (JSON-like: str, number, bool, None,
            list, dict), or a write form this function returned before.
        attribute: the attribute it is going to, from `schema`.
        schema: the cached workspace schema (options, statuses, members, objects).
        options: phone region and null policy; defaults to `ValueOptions()`.
        fast: take the fast path for already-canonical values (the answer is the same
            either way; False exists so tests can hold the two paths to that).

    Returns:
        A `Prepared`: ``ok`` with the write form (a list of explicit value objects, ``[]``
        to unset, or ``skip=True`` for a skipped null), else ``ok=False`` with every problem.
    """
    plan = _PLANS.get(attribute, schema)
    if fast and plan.fast is not None:
        quick = plan.fast(value, plan.index_data)
        if quick is not None:
            written, note = quick
            return Prepared(True, [written], notes=() if note is None else (note,))
    opts = options or DEFAULT_OPTIONS
    if plan.refusal is not None:
        reason, hint = plan.refusal
        return Prepared(False, problems=(Problem(plan.where, preview(value), plan.expected, reason, hint),))
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return _null(value, plan, opts)
    check = plan.checker
    assert check is not None  # a plan without a checker always carries a refusal
    ctx = Context(attribute, schema, opts, plan.expected, plan.index_data)
    if not isinstance(value, (list, tuple)):
        return ctx.outcome([check(value, ctx)])
    if not attribute.is_multiselect:
        if len(value) > 1:
            reason = f"{len(value)} values for a single-value attribute"
            problem = Problem(plan.where, preview(value), plan.expected, reason, "send one value (or a list of one)")
            return Prepared(False, problems=(problem,))
        if value[0] is None:
            return _null(value, plan, opts)
        return ctx.outcome([check(value[0], ctx)])
    written = _each(value, check, ctx)
    if not written and not ctx.problems:
        return _null(value, plan, opts)
    return ctx.outcome(_dedupe(written, ctx) if len(written) > 1 else written)


def _each(values: list[Any] | tuple[Any, ...], check: Checker, ctx: Context) -> list[Any]:
    """Check every element of a multiselect list, collecting every problem (with its index)."""
    written: list[Any] = []
    for position, item in enumerate(values):
        ctx.item_index = position
        if item is None:
            ctx.note("dropped a null from the list")
        elif isinstance(item, (list, tuple)):
            ctx.refuse(item, "a list inside the list", "send a flat list of values")
        else:
            written.append(check(item, ctx))
    ctx.item_index = None
    return written


def _null(value: Any, plan: _AttributeRules, options: ValueOptions) -> Prepared:
    what = "null" if value is None else "an empty list" if not value else "a list of nulls"
    if options.nulls == "skip":
        return Prepared(True, None, notes=(f"{what}: skipped (null policy: skip)",), skip=True)
    if plan.attribute.is_required:
        # Attio answers 400 missing_value when a required value is removed (api-notes 5.4).
        reason = f"{what} would clear a required attribute (null policy: unset)"
        problem = Problem(plan.where, preview(value), plan.expected, reason, "send a value, or skip nulls")
        return Prepared(False, problems=(problem,))
    return Prepared(True, [], notes=(f"{what}: the attribute will be cleared (null policy: unset)",))


def _dedupe(values: list[Any], ctx: Context) -> list[Any]:
    seen: set[str] = set()
    kept: list[Any] = []
    for value in values:
        # Compared as Attio compares (emails without case); the first as typed is kept.
        key = json.dumps(comparison_form(value), sort_keys=True)
        if key in seen:
            ctx.note(f"dropped a repeated value {preview(value)!r}")
            continue
        seen.add(key)
        kept.append(value)
    return kept


def prepare_slug(
    value: Any,
    object_slug: str,
    attribute_slug: str,
    schema: WorkspaceSchema,
    *,
    options: ValueOptions | None = None,
) -> Prepared:
    """`prepare` for an attribute named by object and attribute slug (or id).

    An unknown object or attribute is a problem (with the closest slugs as a hint), not an
    exception.
    """
    where = f"{object_slug}.{attribute_slug}"
    if schema.find_object(object_slug) is None:
        slugs = [o.api_slug for o in schema.objects]
        hint = did_you_mean(object_slug, slugs, "activate it in Attio and pull the schema")
        return _unknown(where, value, f"no activated object {object_slug!r} in the cached schema", hint)
    attribute = schema.find_attribute(object_slug, attribute_slug)
    if attribute is None:
        slugs = [a.api_slug for a in schema.attributes_of(object_slug) if not a.is_archived]
        hint = did_you_mean(attribute_slug, slugs, "create it in Attio and pull the schema")
        return _unknown(where, value, f"{object_slug} has no attribute {attribute_slug!r}", hint)
    return prepare(value, attribute, schema, options=options)


def _unknown(where: str, value: Any, reason: str, hint: str) -> Prepared:
    problem = Problem(where, preview(value), "an attribute in the cached schema", reason, hint)
    return Prepared(False, problems=(problem,))


@dataclass(frozen=True)
class PreparedRecord:
    """Every value of one record, prepared: the ``values`` to send, or every problem found.

    Attributes:
        ok: True when no value has a problem.
        values: api_slug -> write form, for ``{"data": {"values": ...}}``; skipped nulls are
            left out. Empty when not ok.
        problems: every problem of every value.
        notes: coercions made, each prefixed with the attribute's slug.
        warnings: things that pass but deserve a look, prefixed likewise.
    """

    ok: bool
    values: dict[str, list[Any]]
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def prepare_record(
    values: Mapping[str, Any],
    object_slug: str,
    schema: WorkspaceSchema,
    *,
    options: ValueOptions | None = None,
) -> PreparedRecord:
    """`prepare` every value of one record (keys are attribute slugs or ids).

    Problems of all attributes are collected, never only the first; two keys naming the same
    attribute (its slug and its id) are a problem too.
    """
    prepared: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for key, value in values.items():
        attribute = schema.find_attribute(object_slug, key)
        slug = attribute.api_slug if attribute else key
        if slug in seen:
            problems.append(
                Problem(f"{object_slug}.{slug}", preview(value), "one value per attribute",
                        f"{key!r} and {seen[slug]!r} name the same attribute", "keep one of them")
            )  # fmt: skip
            continue
        seen[slug] = key
        result = prepare_slug(value, object_slug, key, schema, options=options)
        problems.extend(result.problems)
        notes.extend(f"{slug}: {n}" for n in result.notes)
        warnings.extend(f"{slug}: {w}" for w in result.warnings)
        if result.ok and not result.skip and result.value is not None:
            prepared[slug] = result.value
    ok = not problems
    return PreparedRecord(ok, prepared if ok else {}, tuple(problems), tuple(notes), tuple(warnings))


def check_value(
    schema: WorkspaceSchema,
    target: str,
    raw_text: str,
    *,
    options: ValueOptions | None = None,
) -> Prepared:
    """What ``attio-sync value OBJECT.ATTRIBUTE VALUE`` checks.

    Args:
        schema: the cached workspace schema.
        target: ``"object.attribute"`` (slugs or ids).
        raw_text: the value as typed: read as JSON when it parses as JSON (``42``, ``true``,
            ``null``, ``["a", "b"]``, ``{"option": "x"}``), otherwise taken as a string.
        options: phone region and null policy.

    Returns:
        The `Prepared` outcome; `Prepared.as_json()` is the ``--json`` output.
    """
    value = _read_json_or_text(raw_text)
    object_slug, dot, attribute_slug = target.partition(".")
    if not dot or not object_slug or not attribute_slug:
        return _unknown(target, value, "the target is not OBJECT.ATTRIBUTE", 'write it like "people.email_addresses"')
    return prepare_slug(value, object_slug, attribute_slug, schema, options=options)


def _read_json_or_text(raw_text: str) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN and Infinity are not JSON, whatever Python's json accepts

    try:
        return json.loads(raw_text, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return raw_text
