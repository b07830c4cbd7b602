"""The record state: what attio-sync knows it last sent to each record, and what to send next.

For every record a sync writes, the state keeps its id, and per attribute a hash of the value
last sent with the time of the event that set it; for multiselect attributes written by
append, the hashes of the items known to be present. Two pure functions hold the rules:

- `diff_write` says, for one write and the record's state, what to send:
  - the matching attribute always goes (it is how an assert finds the record);
  - a value equal to the last one sent is left out (nothing to do);
  - a value from an event *older* than the one that set the attribute is left out: an older
    event never overwrites a newer value (times are compared as instants, in UTC); except
    while the record's id is unknown (its creation was never confirmed): an assert that may
    create the record carries every value, since Attio refuses a new record without its
    required ones (the newer event that failed is not final, and its re-run sets its value);
  - an item already appended is left out;
  - an assert is needed when the record's id is unknown or any value is left to set.
- `after_write` says what the state becomes once a write was sent: on success, the values
  and items sent; when the outcome is unknown (a retryable failure: the request may have
  reached Attio), the values are marked *unknown* with the event's time, so a newer event sends
  its value whatever it is, and an older one still never overwrites it.

`RecordStates` keeps the entries: a bounded in-memory cache over the database, and the entries
changed since the last commit, which the audit log writes in the same transaction as the
outcomes (so a killed run's state never runs ahead of what it recorded, nor behind).
"""

from __future__ import annotations

import hashlib
import marshal
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import bindparam
from sqlmodel import col, select

from .cache import Cache, as_utc
from .jsontext import canonical_json
from .models import RecordState
from .scratch import Scratch

__all__ = ["STATE_CACHE", "RecordStates", "StateEntry", "WriteDiff", "after_write", "diff_write", "value_hash"]

#: Record states kept in memory at once (least recently used go first): a tenth as objects
#: (1.2 to 3 KB each), the rest packed (0.6 to 1.4 KB each with its key). A state that is not
#: in memory comes from the database (one query per batch of events), or for a dry run's
#: change, from its spill file (about 8 microseconds to write one there). At 20,000 a
#: million-event dry run peaked at 133 MiB; at 12,000, 111 MiB (`bench/sync_memory.py`).
STATE_CACHE: Final = 12_000

#: A record state's key: (object slug, "<matching attribute>=<canonical value>").
StateKey = tuple[str, str]


def value_hash(forms: Any) -> str:
    """A short stable hash of a write form (what the record state keeps per attribute)."""
    return hashlib.sha256(canonical_json(forms).encode()).hexdigest()[:20]


@dataclass
class StateEntry:
    """What attio-sync last sent for one record.

    Attributes:
        record_id: Attio's id of the record, once an assert has answered.
        attributes: slug -> [hash of the last value sent (None: unknown, a write may or may
            not have landed), ISO time in UTC of the event that set it (None: no time)].
        items: slug -> hashes of multiselect items known to be present.
    """

    record_id: str | None = None
    attributes: dict[str, list[Any]] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"attributes": self.attributes, "items": self.items}

    def copy(self) -> StateEntry:
        return StateEntry(self.record_id, {k: list(v) for k, v in self.attributes.items()},
                          {k: list(v) for k, v in self.items.items()})


@dataclass(frozen=True)
class WriteDiff:
    """What one write must send, given the record's state."""

    values: dict[str, list[Any]]
    appends: dict[str, list[Any]]
    skipped_older: list[str]
    need_assert: bool
    #: slug -> `value_hash` of the values compared (for `after_write`, so none is hashed twice).
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def nothing_to_send(self) -> bool:
        return not self.need_assert and not self.appends


def instant(text: str | None) -> datetime | None:
    """A stored event time as an aware UTC instant (older states kept other offsets)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return as_utc(parsed)


@lru_cache(maxsize=256)
def stamp(when: datetime | None) -> str | None:
    """An event time as stored: ISO 8601 in UTC, so equal instants are equal text (remembered
    for the last few times: an event's writes, and events of one second, share theirs)."""
    return as_utc(when).isoformat() if when is not None else None


def diff_write(values: dict[str, list[Any]], appends: dict[str, list[Any]], matching_attribute: str,
               entry: StateEntry | None, when: datetime | None) -> WriteDiff:
    """What to send of one write (`values` to assert, `appends` to add), given the state."""
    entry = entry or StateEntry()
    when_utc = as_utc(when) if when is not None else None
    changed = {matching_attribute: values[matching_attribute]}
    skipped_older: list[str] = []
    hashes: dict[str, str] = {}
    for slug, forms in values.items():
        if slug == matching_attribute:
            continue
        previous = entry.attributes.get(slug)
        hashes[slug] = hashed = value_hash(forms)
        if previous and previous[0] is not None and previous[0] == hashed:
            continue
        set_at = instant(previous[1]) if previous and entry.record_id else None
        if when_utc is not None and set_at is not None and when_utc < set_at:
            skipped_older.append(slug)  # an older event never overwrites a newer value
            continue
        changed[slug] = forms
    new_items: dict[str, list[Any]] = {}
    for slug, forms in appends.items():
        present = entry.items.get(slug, [])
        fresh = [form for form in forms if value_hash(form) not in present]
        if fresh:
            new_items[slug] = fresh
    need_assert = entry.record_id is None or len(changed) > 1
    return WriteDiff(changed if need_assert else {}, new_items, skipped_older, need_assert, hashes)


def after_write(entry: StateEntry | None, *, values: dict[str, list[Any]] | None = None,
                items: dict[str, list[Any]] | None = None, when: datetime | None = None,
                record_id: str | None = None, certain: bool = True,
                hashes: dict[str, str] | None = None) -> StateEntry:
    """The state once `values` were asserted and `items` appended (a new entry).

    With `certain=False` (the request failed in a way that may have reached Attio) the values
    are marked unknown and the items are not counted as present. `hashes`: the values' hashes
    where already known (`WriteDiff.hashes`).
    """
    new = entry.copy() if entry is not None else StateEntry()
    if record_id:
        new.record_id = record_id
    sent_at = stamp(when)
    hashes = hashes or {}
    for slug, forms in (values or {}).items():
        previous = new.attributes.get(slug)
        latest = sent_at
        if previous and previous[1] and previous[1] != sent_at:
            times = [t for t in (sent_at, previous[1]) if t]
            latest = max(times, key=lambda t: instant(t) or datetime.min.replace(tzinfo=UTC))
        hashed = (hashes.get(slug) or value_hash(forms)) if certain else None
        new.attributes[slug] = [hashed, latest]
    if certain:
        for slug, forms in (items or {}).items():
            present = new.items.setdefault(slug, [])
            present.extend(h for h in map(value_hash, forms) if h not in present)
    return new


#: The states of a batch of records of one object (`RecordStates.prefetch`), built once.
_STATES = select(RecordState.match_key, RecordState.record_id, RecordState.attributes).where(
    col(RecordState.base_url) == bindparam("base_url"), col(RecordState.object_slug) == bindparam("object_slug"),
    col(RecordState.match_key).in_(bindparam("match_keys", expanding=True)))
#: Whether the database holds any state of one object (`RecordStates.prefetch`).
_ANY_STATE = select(RecordState.match_key).where(
    col(RecordState.base_url) == bindparam("base_url"), col(RecordState.object_slug) == bindparam("object_slug")
).limit(1)


class RecordStates:
    """The record states of one Attio origin: read through from the database, cached in memory.

    Memory holds `size` states: the most recently used tenth as objects, the rest packed
    (`marshal` data, a quarter of the memory of the objects), unpacked when asked for again.

    Args:
        cache: the database.
        base_url: the Attio origin the states belong to.
        persist: keep changes for the database (False for a dry run, whose states never reach
            the database and never make a later real run skip a write). A dry run's changes that
            fall out of memory go to a temporary database (`_Spill`) and are read back from it
            before the database, so its "would write" stays exact at any size in bounded memory.
    """

    def __init__(self, cache: Cache, base_url: str, *, persist: bool = True, size: int | None = None) -> None:
        self.cache = cache
        self.base_url = base_url
        self.persist = persist
        self.size = size or STATE_CACHE
        self._hot_size = max(1, self.size // 10)
        #: The most recently used states, as objects (a key is here or in `_packed`, not both).
        self._cached: OrderedDict[StateKey, StateEntry | None] = OrderedDict()
        self._packed: OrderedDict[StateKey, bytes | None] = OrderedDict()
        #: The packed form of unpacked states not changed since: packed again as they were.
        self._unpacked: dict[StateKey, bytes] = {}
        self._dirty: dict[StateKey, StateEntry] = {}
        #: A dry run's changed states still in memory; spilled when they fall out of it.
        self._rehearsed: set[StateKey] = set()
        #: A dry run's changed states that fell out of memory since the last prefetch, packed.
        self._evicted: dict[StateKey, bytes] = {}
        self._spill: _Spill | None = None
        #: object -> whether the database holds a state of one of its records (asked once; a
        #: run's first commit of one makes it so): a first sync asks nothing per batch.
        self._stored: dict[str, bool] = {}

    def get(self, key: StateKey) -> StateEntry | None:
        """The state of one record, from memory or the database (None: never written)."""
        if key in self._cached:
            self._cached.move_to_end(key)
            return self._cached[key]
        self.prefetch((key,))  # a batch's states are prefetched: this is for one that was not
        return self._cached[key]

    def prefetch(self, keys: Iterable[StateKey]) -> None:
        """Bring the states of `keys` into memory with one query per object, ahead of the
        `get`s a batch of events will make (one query per record costs several times more).
        What memory holds already is left as it is: it may be newer than the database; and a
        dry run's spilled change comes before the database's state."""
        wanted: dict[str, set[str]] = {}
        for key in keys:
            if key in self._cached:
                self._cached.move_to_end(key)  # the batch needs it: not the next to fall out
            elif key in self._packed:
                self._remember(key, self._unpack(key, self._packed.pop(key)))
            elif key in self._evicted:  # fell out since the last batch, not yet spilled
                self._rehearsed.add(key)
                self._remember(key, self._unpack(key, self._evicted.pop(key)))
            elif key in self._dirty:  # changed by this run but fell out: newer than the database
                self._remember(key, self._dirty[key])
            else:
                wanted.setdefault(key[0], set()).add(key[1])
        if self._evicted:
            self._spill = self._spill or _Spill()
            self._spill.put_many(self._evicted)
            self._evicted.clear()
        for obj, matches in wanted.items():
            if self._spill is not None:
                for match, spilled in self._spill.get_many(obj, matches).items():
                    # Not marked rehearsed: until it changes again, the spill holds it as it is.
                    self._remember((obj, match), self._unpack((obj, match), spilled))
                    matches.discard(match)
            if not matches or not self._any_stored(obj):
                for match in matches:
                    self._remember((obj, match), None)
                continue
            rows = self.cache.all(_STATES, {"base_url": self.base_url, "object_slug": obj,
                                            "match_keys": sorted(matches)})
            found = {row.match_key: row for row in rows}
            for match in matches:
                row = found.get(match)
                self._remember((obj, match), None if row is None else _entry(row.record_id, row.attributes))

    def put(self, key: StateKey, entry: StateEntry) -> None:
        self._packed.pop(key, None)
        self._evicted.pop(key, None)
        self._unpacked.pop(key, None)
        self._remember(key, entry)
        if self.persist:
            self._dirty[key] = entry
        else:
            self._rehearsed.add(key)

    def pending(self) -> dict[StateKey, StateEntry]:
        """The states changed since the last commit (to write with the outcomes)."""
        return dict(self._dirty)

    def committed(self, written: dict[StateKey, StateEntry]) -> None:
        """Forget the pending changes that `written` committed (later changes stay pending)."""
        for key, entry in written.items():
            self._stored[key[0]] = True
            if self._dirty.get(key) is entry:
                del self._dirty[key]

    def _any_stored(self, obj: str) -> bool:
        if obj not in self._stored:
            self._stored[obj] = bool(self.cache.all(_ANY_STATE, {"base_url": self.base_url, "object_slug": obj}))
        return self._stored[obj]

    def _remember(self, key: StateKey, entry: StateEntry | None) -> StateEntry | None:
        """`entry` as the newest in memory (the caller took `key` out of `_packed`)."""
        self._cached[key] = entry
        self._cached.move_to_end(key)
        while len(self._cached) > self._hot_size:
            cooled, state = self._cached.popitem(last=False)
            packed = self._unpacked.pop(cooled, None)
            self._packed[cooled] = packed if packed is not None or state is None else _pack(state)
        while len(self._packed) > self.size - self._hot_size:
            evicted, packed = self._packed.popitem(last=False)
            if evicted in self._rehearsed and packed is not None:
                self._rehearsed.discard(evicted)
                self._evicted[evicted] = packed  # spilled by the next prefetch, all at once
        return entry

    def close(self) -> None:
        """Let go of a dry run's spill file (a run calls it when it ends)."""
        self._evicted.clear()
        self._unpacked.clear()
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _unpack(self, key: StateKey, packed: bytes | None) -> StateEntry | None:
        if packed is None:
            return None
        self._unpacked[key] = packed
        return StateEntry(*marshal.loads(packed))


def _pack(entry: StateEntry) -> bytes:
    return marshal.dumps((entry.record_id, entry.attributes, entry.items))


def _entry(record_id: str | None, data: Any) -> StateEntry:
    """A state as the database stores it (its JSON column, parsed)."""
    data = data or {}
    return StateEntry(record_id, dict(data.get("attributes", {})), dict(data.get("items", {})))


class _Spill:
    """A dry run's record states beyond memory, packed, in a scratch database (`toolkit.scratch`)."""

    def __init__(self) -> None:
        self._scratch = Scratch("CREATE TABLE state (object TEXT, match TEXT, data BLOB, "
                                "PRIMARY KEY (object, match)) WITHOUT ROWID")

    def put_many(self, states: dict[StateKey, bytes]) -> None:
        self._scratch.executemany("INSERT OR REPLACE INTO state VALUES (?, ?, ?)",
                                  [(obj, match, packed) for (obj, match), packed in states.items()])

    def get_many(self, obj: str, matches: Collection[str]) -> dict[str, bytes]:
        """The spilled states of `matches` (records of `obj`) there are, packed."""
        rows = self._scratch.matching("SELECT match, data FROM state WHERE object = ? AND match IN ({})",
                                      list(matches), before=(obj,))
        return dict(rows)

    def close(self) -> None:
        self._scratch.close()
