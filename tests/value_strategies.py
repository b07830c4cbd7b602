"""Hypothesis strategies for value tests: JSON-like values, plausible inputs, options."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import strategies as st
from value_cases import CASES

from toolkit.values import ValueOptions

#: Keys of every explicit value form, so generated objects often look almost right.
FORM_KEYS = [
    "value", "option", "status", "email_address", "domain", "currency_value", "currency_code",
    "original_phone_number", "country_code", "first_name", "last_name", "full_name", "line_1",
    "locality", "latitude", "longitude", "target_object", "target_record_id", "email_addresses",
    "domains", "user_id", "referenced_actor_type", "referenced_actor_id", "workspace_member_email_address",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["Gold", "alice@attio.com", "attio.com", "+14155552671", "2023-09-28", "Bloggs, Joe",
                       "people", "companies", "workspace-member", "true", "US", "0677efa2-1c7b-4f2a-9c1e-2b3c4d5e6f70"])
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FORM_KEYS) | st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
#: Inputs that are plausible for some type: every input of the case table, and generated values
#: of the shapes events carry (dates, timestamps, numbers, names, addresses, URLs).
PLAUSIBLE = (
    st.sampled_from([c.input for c in CASES])
    | st.dates().map(date.isoformat)
    | st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1)).map(datetime.isoformat)
    | st.decimals(places=4, min_value=-(10**6), max_value=10**6).map(str)
    | st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8})?@[a-z]{1,8}\.(com|org|io|co\.uk|test)", fullmatch=True)
    | st.from_regex(r"(https?://)?(www\.)?[a-z]{1,10}\.(com|de|co\.uk)(/[a-z]{0,5})?", fullmatch=True)
    | st.from_regex(r"[A-Z][a-z]{0,8},? [A-Z][a-z]{0,8}", fullmatch=True)
    | st.from_regex(r"\+(1|44|33)[0-9]{6,11}", fullmatch=True)
)
OPTIONS = st.builds(ValueOptions, phone_region=st.sampled_from([None, "US", "GB", "FR"]),
                    nulls=st.sampled_from(["skip", "unset"]))
