"""Records in memory, the write semantics of api-notes section 5, and relationship sync.

Every write is computed in full before anything is stored, so a refused write (missing value,
uniqueness conflict) leaves no trace, as Attio promises. Relationship attributes are kept in
step in both directions: writing ``people.company`` moves the person between ``companies.team``
lists, and a single-valued end displaces the record it pointed at before.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..schema import AttributeInfo, ObjectInfo
from .catalog import Catalog
from .coercion import MATCHABLE_TYPES, PENDING_CREATE
from .config import SandboxConfig
from .problems import ApiProblem, not_found
from .values import format_timestamp, value_key

__all__ = ["Record", "Store", "WriteMode"]

JSON = dict[str, Any]

#: How a write treats a multiselect attribute's existing values (api-notes 5.2, 5.4).
#: ``overwrite``: the list becomes what was sent. ``prepend``: new values go to the front,
#: present ones stay, nothing is removed.
WriteMode = Literal["overwrite", "prepend"]


@dataclass
class Record:
    """One stored record: its ids, creation time and current values by attribute id."""

    record_id: str
    object_id: str
    created_at: str
    values: dict[str, list[JSON]] = field(default_factory=dict)


class Store:
    """All records of one sandbox, with the indexes that matching and uniqueness need.

    Args:
        catalog: the served schema.
        config: the sandbox settings (id seed, assert behaviour knobs).
        token_id: the id of the API token, written as the actor of every value.
        clock: the current time (UTC); injectable for tests.
    """

    def __init__(
        self,
        catalog: Catalog,
        config: SandboxConfig,
        token_id: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.token_id = token_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(config.id_seed) if config.id_seed is not None else None
        self.records: dict[str, dict[str, Record]] = {obj.object_id: {} for obj in catalog.schema.objects}
        # attribute id -> value key -> record ids; kept for the types records can be matched on.
        self._index: dict[str, dict[Hashable, set[str]]] = {}

    # -- ids, time, envelope ------------------------------------------------------------------

    def _new_id(self) -> str:
        if self._rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now(self) -> str:
        """The current time in Attio's nine-digit form."""
        return format_timestamp(self.clock())

    def _envelope(self, payload: JSON, at: str) -> JSON:
        return {
            "active_from": at,
            "active_until": None,
            "created_by_actor": {"type": "api-token", "id": self.token_id},
            **payload,
        }

    # -- reads ----------------------------------------------------------------------------------

    def get(self, obj: ObjectInfo, record_id: str) -> Record:
        """The record, or 404 `not_found` (api-notes 5.5)."""
        record = self.records[obj.object_id].get(record_id) or self.records[obj.object_id].get(record_id.lower())
        if record is None:
            raise not_found(f'Record with ID "{record_id}" not found.')
        return record

    def all(self, obj: ObjectInfo) -> Iterable[Record]:
        """The object's records in creation order."""
        return self.records[obj.object_id].values()

    def reserve_id(self) -> str:
        """A fresh record id (for a referenced record a write will create)."""
        return self._new_id()

    def record_exists(self, object_id: str, record_id: str) -> bool:
        """True when the record exists (for record-reference coercion)."""
        return record_id in self.records.get(object_id, {})

    def records_matching(self, attr: AttributeInfo, key: Hashable) -> list[str]:
        """Ids of records whose `attr` holds a value with this key, in creation order."""
        if attr.type in MATCHABLE_TYPES:
            found = self._index.get(attr.attribute_id, {}).get(key, set())
            if len(found) < 2:
                return list(found)
            order = self.records[attr.object_id]
            return [rid for rid in order if rid in found]
        return [
            r.record_id
            for r in self.records[attr.object_id].values()
            if any(value_key(v) == key for v in r.values.get(attr.attribute_id, ()))
        ]

    def record_json(self, record: Record) -> JSON:
        """The record shape of api-notes 5.1: every non-archived attribute, ``[]`` when empty."""
        obj = self.catalog.object_of(record.object_id)
        values = {
            attr.api_slug: record.values.get(attr.attribute_id, [])
            for attr in self.catalog.attributes_of(obj)
            if not attr.is_archived
        }
        noun = (obj.singular_noun or obj.api_slug).lower().replace(" ", "-")
        slug = self.catalog.schema.workspace.workspace_slug or "sandbox"
        return {
            "id": {"workspace_id": self.catalog.workspace_id, "object_id": obj.object_id,
                   "record_id": record.record_id},
            "created_at": record.created_at,
            "web_url": f"https://app.attio.com/{slug}/{noun}/{record.record_id}",
            "values": values,
        }

    # -- writes ---------------------------------------------------------------------------------

    def create(self, obj: ObjectInfo, values: dict[str, list[JSON]], record_id: str | None = None) -> Record:
        """`POST …/records`: a new record, no matching (api-notes 5.3).

        Args:
            obj: the object.
            values: coerced payloads by attribute id.
            record_id: a chosen id (seeding only; the API always draws one).
        """
        if record_id is not None and self.record_exists(obj.object_id, record_id.lower()):
            raise ApiProblem(400, "uniqueness_conflict", f'A record with ID "{record_id}" already exists.')
        return self._write(obj, None, values, "overwrite", record_id=record_id)

    def update(self, obj: ObjectInfo, record_id: str, values: dict[str, list[JSON]], mode: WriteMode) -> Record:
        """`PATCH` (``prepend``) or `PUT` (``overwrite``) on one record (api-notes 5.4)."""
        return self._write(obj, self.get(obj, record_id), values, mode)

    def assert_record(self, obj: ObjectInfo, matching: AttributeInfo, values: dict[str, list[JSON]]) -> Record:
        """`PUT …/records?matching_attribute=`: update the one match or create (api-notes 5.2)."""
        supplied = values.get(matching.attribute_id) or []
        if not supplied:
            if self.config.missing_matching_value == "create":
                return self._write(obj, None, values, "overwrite")
            raise ApiProblem(400, "validation_type",
                             f'The matching attribute "{matching.api_slug}" has no value in the payload, '
                             "so no record can be matched.")  # fmt: skip
        found: list[str] = []
        for payload in supplied:
            for rid in self.records_matching(matching, value_key(payload)):
                if rid not in found:
                    found.append(rid)
        if len(found) > 1:
            code = self.config.multiple_match
            raise ApiProblem(400, code, f'Multiple records were found for the given matching attribute "'
                             f'{matching.api_slug}"; an assert must match at most one record.')  # fmt: skip
        if not found:
            return self._write(obj, None, values, "overwrite")
        # The matching attribute is additive, every other multiselect is overwritten.
        return self._write(obj, self.get(obj, found[0]), values, "overwrite", additive={matching.attribute_id})

    def delete(self, obj: ObjectInfo, record_id: str) -> None:
        """`DELETE …/records/{id}`; references to it from relationship attributes go too."""
        record = self.get(obj, record_id)
        for attr_id, current in list(record.values.items()):
            attr = self.catalog.attribute_by_id[attr_id]
            inverse = self.catalog.inverse(attr)
            if inverse is not None:
                for value in current:
                    self._unlink(value["target_record_id"], inverse, record.record_id)
            self._unindex(record, attr, current)
        del self.records[obj.object_id][record.record_id]

    # -- the one write path ---------------------------------------------------------------------

    def _write(
        self,
        obj: ObjectInfo,
        record: Record | None,
        values: dict[str, list[JSON]],
        mode: WriteMode,
        additive: frozenset[str] | set[str] = frozenset(),
        record_id: str | None = None,
    ) -> Record:
        at = self.now()
        creating = record is None
        if record is not None:
            record_id = record.record_id
        else:
            record_id = record_id.lower() if record_id else self._new_id()
        old_values = {} if record is None else record.values
        # References whose record this write creates (target_record_reference, create outcome).
        pending = [(p.pop(PENDING_CREATE), p) for ps in values.values() for p in ps if PENDING_CREATE in p]
        new_values: dict[str, list[JSON]] = {}
        for attr_id, payloads in values.items():
            attr = self.catalog.attribute_by_id[attr_id]
            current = old_values.get(attr_id, [])
            kept = {value_key(v): v for v in current}
            fresh = [kept.get(value_key(p)) or self._envelope(p, at) for p in payloads]
            if attr.is_multiselect and (mode == "prepend" or attr_id in additive):
                new_keys = {value_key(v) for v in current}
                fresh = [v for v in fresh if value_key(v) not in new_keys] + list(current)
            new_values[attr_id] = fresh

        if creating:
            for attr_id, defaults in self._defaults(obj, new_values, at).items():
                new_values[attr_id] = defaults
        self._check_required(obj, old_values, new_values, creating)
        self._check_unique(obj, record_id, new_values)
        for create, reference in pending:
            target = self.catalog.object(reference["target_object"])
            assert target is not None
            if not self.record_exists(target.object_id, reference["target_record_id"]):
                self._write(target, None, create, "overwrite", record_id=reference["target_record_id"])

        if record is None:
            record = Record(record_id, obj.object_id, at)
            record.values = {}
            record.values.update(self._system_values(record, at))
            self.records[obj.object_id][record_id] = record
        for attr_id, fresh in new_values.items():
            attr = self.catalog.attribute_by_id[attr_id]
            old = record.values.get(attr_id, [])
            self._unindex(record, attr, old)
            record.values[attr_id] = fresh
            self._reindex(record, attr, fresh)
            inverse = self.catalog.inverse(attr)
            if inverse is not None:
                self._sync_relationship(record, attr, inverse, old, fresh, at)
        if creating and self.config.company_from_email and obj.api_slug == "people":
            self._company_from_email(record)
        return record

    def _company_from_email(self, person: Record) -> None:
        """Attio's side effect of creating a person: the company of the email's domain, matched
        or created, linked as ``people.company`` (docs.attio.com, standard objects: people).

        The person's first email whose domain is not a free-mail provider's decides. A company
        holding that domain, else its registrable root, else ``www.`` and the root, is matched
        (the oldest, when several); else one is created with the root as its domain. A
        person written with a company keeps it: the write said which company it is. Where a company
        cannot be made from a domain alone (a required custom attribute), the person stays unlinked
        rather than the person's own write failing.
        """
        people, companies = self.catalog.object("people"), self.catalog.object("companies")
        assert people is not None
        link = self.catalog.attribute(people, "company")
        emails = self.catalog.attribute(people, "email_addresses")
        domains = self.catalog.attribute(companies, "domains") if companies else None
        if companies is None or link is None or emails is None or domains is None or domains.is_archived:
            return
        if link.is_archived or person.values.get(link.attribute_id):
            return
        skip = self.config.free_mail_domains
        email = next((e for e in person.values.get(emails.attribute_id, ())
                      if e["email_domain"] not in skip and e["email_root_domain"] not in skip), None)  # fmt: skip
        if email is None:
            return
        root = email["email_root_domain"]
        found = next((hit for domain in dict.fromkeys((email["email_domain"], root, f"www.{root}"))
                      if (hit := self.records_matching(domains, domain))), [])  # fmt: skip
        if found:
            company_id = found[0]
        else:
            payload = {"domain": root, "root_domain": root, "attribute_type": "domain"}
            try:
                company_id = self._write(companies, None, {domains.attribute_id: [payload]}, "overwrite").record_id
            except ApiProblem:
                return  # a company needs more than a domain here (a required custom attribute): no link
        reference = {"target_object": companies.api_slug, "target_record_id": company_id,
                     "attribute_type": "record-reference"}  # fmt: skip
        self._write(people, person, {link.attribute_id: [reference]}, "overwrite")

    def _defaults(self, obj: ObjectInfo, given: dict[str, list[JSON]], at: str) -> dict[str, list[JSON]]:
        """Default values of attributes a create leaves out (api-notes 3.2 `default_value`).

        ``current-user`` is the API token when the API writes; a duration is added to now;
        a static template is stored as it is. System attributes are set by `_system_values`.
        """
        found: dict[str, list[JSON]] = {}
        for attr in self.catalog.attributes_of(obj):
            default = attr.default_value
            if (attr.attribute_id in given or not attr.is_default_value_enabled or not isinstance(default, dict)
                    or attr.api_slug in ("record_id", "created_at", "created_by") or attr.is_archived):  # fmt: skip
                continue
            template = default.get("template")
            payloads: list[JSON] = []
            if default.get("type") == "static" and isinstance(template, list):
                payloads = [{k: v for k, v in item.items() if k not in ("active_from", "active_until",
                             "created_by_actor")} for item in template if isinstance(item, dict)]  # fmt: skip
            elif template == "current-user" and attr.type == "actor-reference":
                payloads = [{"referenced_actor_type": "api-token", "referenced_actor_id": self.token_id,
                             "attribute_type": "actor-reference"}]  # fmt: skip
            elif isinstance(template, str) and attr.type in ("date", "timestamp"):
                moment = _plus_duration(self.clock(), template)
                if moment is not None:
                    value = format_timestamp(moment) if attr.type == "timestamp" else moment.date().isoformat()
                    payloads = [{"value": value, "attribute_type": attr.type}]
            if payloads:
                found[attr.attribute_id] = [self._envelope(p, at) for p in payloads]
        return found

    def _system_values(self, record: Record, at: str) -> Iterator[tuple[str, list[JSON]]]:
        obj = self.catalog.object_of(record.object_id)
        for slug, payload in (
            ("record_id", {"value": record.record_id, "attribute_type": "text"}),
            ("created_at", {"value": at, "attribute_type": "timestamp"}),
            ("created_by", {"referenced_actor_type": "api-token", "referenced_actor_id": self.token_id,
                            "attribute_type": "actor-reference"}),
        ):  # fmt: skip
            attr = self.catalog.attribute(obj, slug)
            if attr is not None:
                value = [self._envelope(payload, at)]
                self._reindex(record, attr, value)
                yield attr.attribute_id, value

    def _check_required(
        self, obj: ObjectInfo, old: dict[str, list[JSON]], new: dict[str, list[JSON]], creating: bool
    ) -> None:
        for attr in self.catalog.attributes_of(obj):
            if not attr.is_required or attr.is_archived:
                continue
            if creating:
                missing = not new.get(attr.attribute_id)
            else:
                missing = attr.attribute_id in new and not new[attr.attribute_id]
            if missing:
                raise ApiProblem(400, "missing_value",
                                 f'Required value for attribute with ID "{attr.attribute_id}" was not provided.')

    def _check_unique(self, obj: ObjectInfo, record_id: str, new: dict[str, list[JSON]]) -> None:
        for attr_id, fresh in new.items():
            attr = self.catalog.attribute_by_id[attr_id]
            if not attr.is_unique:
                continue
            for value in fresh:
                holders = self.records_matching(attr, value_key(value))
                if any(h != record_id for h in holders):
                    raise ApiProblem(
                        400,
                        "uniqueness_conflict",
                        f'A value provided for attribute with slug "{attr.api_slug}" conflicts with one already in '
                        "the system. This attribute has a uniqueness constraint. Please ensure all values for this "
                        "attribute do not exist on another record.",
                    )

    # -- indexes ----------------------------------------------------------------------------------

    def _reindex(self, record: Record, attr: AttributeInfo, values: list[JSON]) -> None:
        if attr.type not in MATCHABLE_TYPES:
            return
        index = self._index.setdefault(attr.attribute_id, {})
        for value in values:
            index.setdefault(value_key(value), set()).add(record.record_id)

    def _unindex(self, record: Record, attr: AttributeInfo, values: list[JSON]) -> None:
        if attr.type not in MATCHABLE_TYPES:
            return
        index = self._index.get(attr.attribute_id, {})
        for value in values:
            holders = index.get(value_key(value))
            if holders is not None:
                holders.discard(record.record_id)
                if not holders:
                    del index[value_key(value)]

    # -- relationships ----------------------------------------------------------------------------

    def _sync_relationship(
        self, record: Record, attr: AttributeInfo, inverse: AttributeInfo, old: list[JSON], new: list[JSON], at: str
    ) -> None:
        old_ids = [v["target_record_id"] for v in old]
        new_ids = [v["target_record_id"] for v in new]
        for target_id in old_ids:
            if target_id not in new_ids:
                self._unlink(target_id, inverse, record.record_id)
        for target_id in new_ids:
            if target_id not in old_ids:
                self._link(target_id, inverse, record, attr, at)

    def _unlink(self, target_id: str, inverse: AttributeInfo, record_id: str) -> None:
        target = self.records[inverse.object_id].get(target_id)
        if target is None:
            return
        current = target.values.get(inverse.attribute_id, [])
        target.values[inverse.attribute_id] = [v for v in current if v["target_record_id"] != record_id]

    def _link(self, target_id: str, inverse: AttributeInfo, record: Record, attr: AttributeInfo, at: str) -> None:
        target = self.records[inverse.object_id].get(target_id)
        if target is None:
            return
        current = target.values.get(inverse.attribute_id, [])
        if any(v["target_record_id"] == record.record_id for v in current):
            return
        obj = self.catalog.object_of(record.object_id)
        value = self._envelope({"target_object": obj.api_slug, "target_record_id": record.record_id,
                                "attribute_type": "record-reference"}, at)  # fmt: skip
        if inverse.is_multiselect:
            target.values[inverse.attribute_id] = [value, *current]
            return
        # A single-valued end points at one record only: the record it pointed at loses `target`.
        for displaced in current:
            if displaced["target_record_id"] != record.record_id:
                self._unlink(displaced["target_record_id"], attr, target_id)
        target.values[inverse.attribute_id] = [value]


_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def _plus_duration(moment: datetime, text: str) -> datetime | None:
    """`moment` plus an ISO-8601 duration such as ``P1M`` or ``PT0S``; None when unreadable."""
    from dateutil.relativedelta import relativedelta

    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        return None
    parts = {k: float(v) if k == "seconds" else int(v) for k, v in match.groupdict().items() if v}
    try:
        return moment + relativedelta(**parts)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return None
