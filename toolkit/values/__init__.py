"""Value validation for every Attio attribute type (issue 4).

Before anything is sent, every mapped value is checked against the type of the attribute it
is going to and turned into the exact write form Attio expects: a value Attio would refuse
never leaves the machine, and a value Attio would accept is never refused. The facts come
from ``../shared/attio/api-notes.md`` section 4; where a fact is [unconfirmed] the checker
takes the side Attio is sure to accept and says so in a comment.

Public API::

    prepare(value, attribute, schema, *, options=None) -> Prepared
    prepare_slug(value, object_slug, attribute_slug, schema, *, options=None) -> Prepared
    prepare_record(values, object_slug, schema, *, options=None) -> PreparedRecord
    check_value(schema, "object.attribute", raw_text, *, options=None) -> Prepared
    comparison_form(write_form) -> the form Attio compares (emails without case)

Modules, one per family of types: `scalars` (text, number, checkbox, currency, rating),
`temporal` (date, timestamp), `contact` (email, domain, phone), `structured` (personal-name,
location), `choices` (select, status, actor-reference), `references` (record-reference),
`core` (the entry points and the rules outside types), `result` (what comes back).
"""

from __future__ import annotations

from .contact import comparison_form
from .core import CHECKERS, PreparedRecord, check_value, prepare, prepare_record, prepare_slug
from .result import Prepared, Problem, ValueOptions

__all__ = [
    "CHECKERS",
    "Prepared",
    "PreparedRecord",
    "Problem",
    "ValueOptions",
    "check_value",
    "comparison_form",
    "prepare",
    "prepare_record",
    "prepare_slug",
]
