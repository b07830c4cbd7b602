"""What value preparation returns, and the small collector every type checker reports into.

`Prepared` is the outcome of preparing one mapped value for one attribute: either the exact
write form Attio expects (always a list of explicit value objects) or every problem found.
`Problem` names the attribute, shows the input (safely), says what was expected and why the
input is not that, and gives a hint where one is known.

`Context` is internal: one per `prepare` call, it carries the attribute, schema and options
and collects problems, notes (coercions made) and warnings.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..schema import AttributeInfo, WorkspaceSchema

__all__ = [
    "EXPECTED",
    "Context",
    "Prepared",
    "Problem",
    "Quick",
    "ValueOptions",
    "closest",
    "did_you_mean",
    "preview",
]

#: What each type takes, in the words of the seed's format table (shown in every problem).
EXPECTED: dict[str, str] = {
    "actor-reference": 'actor-reference: the email of a workspace member, e.g. "alice@attio.com"',
    "checkbox": "checkbox: a boolean, true or false",
    "currency": "currency: a number with up to 4 decimal places, e.g. 99 or 29.9999",
    "date": 'date: YYYY-MM-DD, e.g. "2023-09-28"',
    "domain": 'domain: {domain}.{tld}, e.g. "app.attio.com"',
    "email-address": 'email-address: a valid email address, e.g. "person@example.com"',
    "interaction": "interaction: not writable (only Attio creates interactions)",
    "location": 'location: all address parts in one string, e.g. "1 Infinite Loop, Cupertino, CA, US", '
    "or the ten-key location object",
    "number": "number: a finite number (64-bit float), e.g. 42.192 or 17",
    "personal-name": 'personal-name: "Last, First" (note the comma), e.g. "Bloggs, Joe"',
    "phone-number": 'phone-number: E.164, starting with + and the country code, e.g. "+15558675309"',
    "rating": "rating: an integer from 0 to 5",
    "record-reference": "record-reference: a reference to another record (email for people, domain for "
    "companies, user_id, workspace_id, or a record id)",
    "select": 'select: the title or id of an option, e.g. "open"',
    "status": 'status: the title or id of a status, e.g. "open"',
    "text": 'text: a string, e.g. "A piece of text"',
    "timestamp": 'timestamp: ISO 8601, e.g. "2023-09-28T04:39:17Z"',
}

NullPolicy = Literal["skip", "unset"]

#: What a fast path returns (see `toolkit.values.core.FAST`): None to take the full checker, or
#: the write form and the one note the checker would make (None when it makes none).
Quick = tuple[Any, str | None] | None

_PREVIEW_CHARS = 200
_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = _PREVIEW_CHARS
_repr.maxother = _PREVIEW_CHARS
_repr.maxlong = 60


def preview(value: Any) -> Any:
    """A JSON-safe, bounded stand-in for an input value, for problems and logs.

    Strings are cut to 200 characters (with the full length said), NaN and infinities become
    their names, huge integers and anything nested become a bounded repr. Never raises, even
    for a 10 MB string or a structure nested ten thousand deep.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) <= _PREVIEW_CHARS:
            return value
        return f"{value[:_PREVIEW_CHARS]}... ({len(value)} characters)"
    if isinstance(value, int):
        # str() of an int over ~4300 digits raises in Python 3.11+: describe it instead.
        return value if value.bit_length() <= 128 else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    try:
        return _repr.repr(value)
    except Exception:  # a hostile __repr__ must not turn a problem report into a crash
        return f"<{type(value).__name__}>"


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most like `word` (case-insensitive), best first; [] when none is close."""
    pool = {c.casefold(): c for c in candidates}
    found = difflib.get_close_matches(word.casefold()[:200], list(pool), n=n, cutoff=0.6)
    return [pool[f] for f in found]


def did_you_mean(word: str, candidates: Iterable[str], otherwise: str, *, quote: bool = False) -> str:
    """A hint naming the closest candidates ("did you mean x or y?"), else `otherwise`."""
    near = closest(word, candidates)
    if not near:
        return otherwise
    return "did you mean " + " or ".join(repr(n) if quote else n for n in near) + "?"


@dataclass(frozen=True)
class ValueOptions:
    """How to read values where the attribute type alone does not say.

    Attributes:
        phone_region: ISO 3166 alpha-2 region for phone numbers written without a ``+``
            country code (set in the mapping). None: such numbers are refused.
        nulls: what a null (or empty list) means: ``"skip"`` (the default) leaves the
            attribute alone; ``"unset"`` clears it by writing ``[]``.
    """

    phone_region: str | None = None
    nulls: NullPolicy = "skip"

    def __post_init__(self) -> None:
        if self.nulls not in ("skip", "unset"):
            raise ValueError(f'nulls must be "skip" or "unset", not {self.nulls!r}')
        if self.phone_region is not None:
            # phonenumbers wants upper-case regions; a mapping may well say "gb".
            object.__setattr__(self, "phone_region", self.phone_region.strip().upper() or None)


DEFAULT_OPTIONS = ValueOptions()


@dataclass(frozen=True)
class Problem:
    """One reason a value cannot be sent.

    Attributes:
        attribute: ``object.slug`` of the attribute the value was meant for.
        input: a bounded, JSON-safe preview of the offending input (see `preview`).
        expected: what the attribute type takes, with an example.
        reason: why the input is not that.
        hint: how to fix it (the closest option title, the missing comma...), or None.
        index: position in the list, for one element of a multiselect list; else None.
    """

    attribute: str
    input: Any
    expected: str
    reason: str
    hint: str | None = None
    index: int | None = None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON, as printed by ``attio-sync value --json``."""
        return {
            "attribute": self.attribute,
            "input": self.input,
            "expected": self.expected,
            "reason": self.reason,
            "hint": self.hint,
            "index": self.index,
        }

    def __str__(self) -> str:
        where = self.attribute if self.index is None else f"{self.attribute}[{self.index}]"
        text = f"{where}: {self.reason} (got {self.input!r}; expected {self.expected})"
        return f"{text}; hint: {self.hint}" if self.hint else text


@dataclass(frozen=True)
class Prepared:
    """The outcome of preparing one value for one attribute.

    Attributes:
        ok: True when the value may be sent (or skipped).
        value: the write form for ``{"data": {"values": {slug: value}}}``: always a list of
            explicit value objects; ``[]`` to unset; None when not ok or skipped.
        problems: every problem found (empty when ok).
        notes: each coercion made on the way ("Joe Bloggs" read as first and last name...).
        warnings: things that pass but deserve a look (a suspended member, a 555 number).
        skip: True when a null was skipped under the "skip" null policy: send nothing.
    """

    ok: bool
    value: list[Any] | None = None
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    skip: bool = False

    def as_json(self) -> dict[str, Any]:
        """``{"ok", "value", "problems", "notes"}``, as ``attio-sync value --json`` prints it.

        Warnings travel in ``notes`` with a ``"warning: "`` prefix, so the shape stays the
        four keys the CLI documents.
        """
        return {
            "ok": self.ok,
            "value": self.value,
            "problems": [p.as_json() for p in self.problems],
            "notes": [*self.notes, *(f"warning: {w}" for w in self.warnings)],
        }


@dataclass(eq=False)
class Context:
    """Per-call state: where we are, and what has been found so far (internal)."""

    attribute: AttributeInfo
    schema: WorkspaceSchema
    options: ValueOptions
    expected: str
    index_data: Any = None
    item_index: int | None = None
    prefix: str = ""
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """``object.slug`` of the attribute being prepared."""
        return f"{self.attribute.object_slug}.{self.attribute.api_slug}"

    def refuse(self, item: Any, reason: str, hint: str | None = None) -> None:
        """Record a problem with `item` (checkers then ``return None``: None means "refused, see problems")."""
        self.problems.append(
            Problem(self.where, preview(item), self.expected, self.prefix + reason, hint, self.item_index)
        )

    def note(self, text: str) -> None:
        """Record a coercion that was made (never silently)."""
        self.notes.append(self._at(text))

    def warn(self, text: str) -> None:
        """Record something that passes but deserves a look."""
        self.warnings.append(self._at(text))

    def outcome(self, written: list[Any]) -> Prepared:
        """The `Prepared` for the checked elements: not ok when any problem was recorded."""
        if not self.problems and any(w is None for w in written):
            # Checkers return None only after recording why; this keeps a slip from sending None.
            self.refuse(written, "the value could not be checked")
        if self.problems:
            return Prepared(
                False, problems=tuple(self.problems), notes=tuple(self.notes), warnings=tuple(self.warnings)
            )
        return Prepared(True, written, (), tuple(self.notes), tuple(self.warnings))

    def child(self, prefix: str, index_data: Any = None) -> Context:
        """A context for a value nested in this one; it reports into the same lists."""
        return Context(
            self.attribute,
            self.schema,
            self.options,
            self.expected,
            index_data,
            self.item_index,
            self.prefix + prefix,
            self.problems,
            self.notes,
            self.warnings,
        )

    def _at(self, text: str) -> str:
        text = self.prefix + text
        return text if self.item_index is None else f"[{self.item_index}] {text}"
