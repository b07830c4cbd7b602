"""The sandbox's own reading of attribute values: which write forms Attio accepts, how it coerces
them, and what it refuses (api-notes section 4).

This module deliberately shares nothing with the toolkit's value validation: it is the second
opinion the toolkit's validators are held against. References (select, status, actor and record
references) need the workspace and the stored records and live in `references.py`.

Every coercer takes one *item* (a single value, already unwrapped from its list) and returns the
read-shape payload without the envelope, ``attribute_type`` included; or raises `Invalid` with
zod-style items whose paths are relative to the value, as Attio reports them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeGuard

import phonenumbers
from publicsuffixlist import PublicSuffixList

from .locations import LOCATION_KEYS, parse_location
from .problems import json_type_name, unrecognized_keys, validation_item

__all__ = [
    "COUNTRY_CODES",
    "Invalid",
    "SCALAR_COERCERS",
    "format_timestamp",
    "parse_iso",
    "value_key",
]

JSON = dict[str, Any]

#: api-notes 4.2: the spec's 252 country codes (phone and location).
COUNTRY_CODES = frozenset(
    """AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BA BW BV BR IO BN BG
    BF BI KH CM CA CV KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU CW CY CZ DK DJ DM DO EC EG SV GQ ER EE
    ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW GY HT HM VA HN HK HU IS IN ID IR
    IQ IE IM IL IT JM JP JE JO KZ KE KI KR KW KG LA LV LB LS LR LY LI LT LU MO MK MG MW MY MV ML MT MH MQ MR
    MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP NL AN NC NZ NI NE NG NU NF MP NO OM PK PW PS PA PG PY PE PH
    PN PL PT PR QA RE RO RU RW BL SH KN LC MF PM VC WS SM ST SA SN SS RS SC SL SG SK SI SB SO ZA GS ES LK SD
    SR SJ SZ SE CH SY TW TJ TZ TH TL TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY UZ VU VE VN VG VI WF EH
    YE ZM ZW BQ KP SX XK AC""".split()
)

#: api-notes 4.2 email-address: Attio refuses addresses under these reserved TLDs.
RESERVED_TLDS = frozenset({"test", "invalid", "example", "localhost"})

_LATITUDE = re.compile(r"^[-+]?([1-8]?\d(\.\d+)?|90(\.0+)?)$")
_LONGITUDE = re.compile(r"^[-+]?(180(\.0+)?|((1[0-7]\d)|([1-9]?\d))(\.\d+)?)$")
_TEXT_MAX_BYTES = 10 * 1024 * 1024


class Invalid(Exception):
    """A value Attio refuses with `validation_type`; `errors` are zod-style items."""

    def __init__(self, errors: list[JSON]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid")
        self.errors = errors


def _type_error(expected: str, value: Any, path: list[str | int] | None = None) -> Invalid:
    received = "undefined" if value is _MISSING else json_type_name(value)
    message = "Required" if value is _MISSING else f"Expected {expected}, received {received}"
    return Invalid([validation_item("invalid_type", path or [], message, expected=expected, received=received)])


_MISSING = object()


def _unwrap(item: Any, key: str) -> Any:
    """The bare value of `item`, accepting the object form ``{key: value}`` too."""
    if isinstance(item, dict):
        extra = set(item) - {key}
        if key not in item:
            raise _type_error(_expected_for(key), _MISSING, [key])
        if extra:
            raise Invalid([unrecognized_keys(extra)])
        return item[key]
    return item


def _expected_for(key: str) -> str:
    return "string" if key != "currency_value" else "number"


# -- numbers ---------------------------------------------------------------------------------


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _decimal_places(value: float | int) -> int:
    exponent = Decimal(repr(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _finite(value: Any, path: list[str | int]) -> float | int:
    if not _is_number(value):
        raise _type_error("number", value, path)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float: Attio parses JSON numbers as doubles
        finite = False
    if not finite:
        raise Invalid([validation_item("invalid_type", path, "Expected a finite number", expected="number")])
    return value


def coerce_text(item: Any, ctx: Options) -> JSON:
    """text: a string or ``{"value": s}``, at most 10 MB."""
    value = _unwrap(item, "value")
    if not isinstance(value, str):
        raise _type_error("string", value, ["value"] if isinstance(item, dict) else [])
    if len(value.encode("utf-8")) > _TEXT_MAX_BYTES:
        raise Invalid([validation_item("too_big", [], "Text values are limited to 10MB", maximum=_TEXT_MAX_BYTES)])
    return {"value": value, "attribute_type": "text"}


def coerce_number(item: Any, ctx: Options) -> JSON:
    """number: a finite number or ``{"value": n}``; more than 4 decimals refused when strict, else rounded."""
    value = _finite(_unwrap(item, "value"), ["value"] if isinstance(item, dict) else [])
    if _decimal_places(value) > 4:
        if ctx.strict_precision:
            raise Invalid([validation_item("invalid", [], "Numbers may have at most 4 decimal places")])
        value = round(value, 4)
    return {"value": value, "attribute_type": "number"}


def coerce_rating(item: Any, ctx: Options) -> JSON:
    """rating: an integer 0-5 or ``{"value": n}``; fractions refused when strict, else rounded."""
    value = _finite(_unwrap(item, "value"), ["value"] if isinstance(item, dict) else [])
    if not 0 <= value <= 5:
        raise Invalid([validation_item("invalid", [], "Ratings must be between 0 and 5", minimum=0, maximum=5)])
    if value != int(value):
        if ctx.strict_precision:
            raise Invalid([validation_item("invalid_type", [], "Expected integer, received float",
                                           expected="integer", received="float")])  # fmt: skip
        value = round(value)
    return {"value": int(value), "attribute_type": "rating"}


def coerce_checkbox(item: Any, ctx: Options) -> JSON:
    """checkbox: a boolean, ``"true"``/``"false"``, or ``{"value": ...}``."""
    value = _unwrap(item, "value")
    if value in ("true", "false"):
        value = value == "true"
    if not isinstance(value, bool):
        raise _type_error("boolean", value, ["value"] if isinstance(item, dict) else [])
    return {"value": value, "attribute_type": "checkbox"}


def coerce_currency(item: Any, ctx: Options) -> JSON:
    """currency: a number, a numeric string or ``{"currency_value": n}``; the code is the attribute's."""
    code = ctx.currency_code
    if isinstance(item, dict):
        extra = set(item) - {"currency_value", "currency_code"}
        if extra:
            raise Invalid([unrecognized_keys(extra)])
        # api-notes 4.2: the code comes from the attribute's config and cannot be written.
        if "currency_code" in item and item["currency_code"] != code:
            message = f"currency_code cannot be written; this attribute stores {code}"
            raise Invalid([validation_item("invalid", ["currency_code"], message)])
        if "currency_value" not in item:
            raise _type_error("number", _MISSING, ["currency_value"])
        value: Any = item["currency_value"]
        path: list[str | int] = ["currency_value"]
    else:
        value, path = item, []
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", value.strip()):
        # A numeric string is accepted (api-notes 4.2) and read as the number it spells.
        value = float(value) if "." in value else int(value)
    value = _finite(value, path)
    if _decimal_places(value) > 4:
        if ctx.strict_precision:
            raise Invalid([validation_item("invalid", path, "Currency values may have at most 4 decimal places")])
        value = round(value, 4)
    return {"currency_value": value, "currency_code": code, "attribute_type": "currency"}


# -- dates and timestamps --------------------------------------------------------------------

_ISO = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?$"
)


def parse_iso(text: str) -> tuple[datetime, int, bool] | None:
    """Parse an ISO-8601 date or date-time, partial forms included.

    Returns:
        (the instant, in UTC when a zone was given, else naive; nanoseconds; whether a zone
        was given), or None when `text` is not ISO-8601 or out of range.
    """
    match = _ISO.match(text.strip())
    if not match:
        return None
    g = match.groupdict()
    fraction = (g["f"] or "").ljust(9, "0")
    try:
        moment = datetime(
            int(g["y"]), int(g["m"] or 1), int(g["d"] or 1), int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0)
        )
        zone = g["tz"]
        if zone:
            if zone in ("Z", "z"):
                offset = timedelta(0)
            else:
                digits = zone[1:].replace(":", "")
                offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
                if offset >= timedelta(hours=24):
                    return None
                offset = offset if zone[0] == "+" else -offset
            moment = (moment - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return moment, int(fraction), bool(g["tz"])


def format_timestamp(moment: datetime, nanos: int | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (api-notes 2.2: nine fractional digits)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    nanos = moment.microsecond * 1000 if nanos is None else nanos
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{nanos:09d}Z"
    )


def _instant(item: Any, what: str) -> tuple[datetime, int]:
    """The instant and nanoseconds of a date or timestamp write (a string or ``{"value": s}``)."""
    value = _unwrap(item, "value")
    if not isinstance(value, str):
        raise _type_error("string", value, ["value"] if isinstance(item, dict) else [])
    parsed = parse_iso(value)
    if parsed is None:
        raise Invalid([validation_item("invalid_date", [], f"Invalid {what}")])
    return parsed[0], parsed[1]


def coerce_date(item: Any, ctx: Options) -> JSON:
    """date: ISO-8601, partial forms padded; a zone that changes the UTC day moves the date."""
    moment, _ = _instant(item, "date")
    return {"value": moment.date().isoformat(), "attribute_type": "date"}


def coerce_timestamp(item: Any, ctx: Options) -> JSON:
    """timestamp: ISO-8601, partial forms padded, UTC assumed, read back with nine digits."""
    moment, nanos = _instant(item, "timestamp")
    return {"value": format_timestamp(moment, nanos), "attribute_type": "timestamp"}


# -- domains and emails ----------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def host_name(text: str) -> str | None:
    """A lower-case, ASCII (punycode) host name, or None when `text` is not one."""
    host = text.strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # an IPv4 address, not a domain
    return host


def root_domain(host: str) -> str | None:
    """The registrable domain of `host` (``app.attio.com`` -> ``attio.com``)."""
    return _psl().privatesuffix(host)


def domain_from_url(text: str) -> str:
    """Strip scheme, credentials, port, path, query and fragment: Attio stores domains, not URLs."""
    rest = _SCHEME.sub("", text.strip())
    rest = re.split(r"[/?#]", rest, maxsplit=1)[0]
    rest = rest.rsplit("@", 1)[-1]
    return re.sub(r":\d*$", "", rest)


def coerce_domain(item: Any, ctx: Options) -> JSON:
    """domain: a host name or URL (reduced to its host), with its registrable `root_domain`."""
    value = _unwrap(item, "domain")
    if not isinstance(value, str):
        raise _type_error("string", value, ["domain"] if isinstance(item, dict) else [])
    host = host_name(domain_from_url(value))
    root = root_domain(host) if host else None
    if host is None or root is None:
        raise Invalid([validation_item("invalid", ["domain"], "Invalid domain")])
    return {"domain": host, "root_domain": root, "attribute_type": "domain"}


def coerce_email(item: Any, ctx: Options) -> JSON:
    """email-address: validated strictly, lower-cased, split into domain and local parts."""
    value = _unwrap(item, "email_address")
    if not isinstance(value, str):
        raise _type_error("string", value, ["email_address"] if isinstance(item, dict) else [])
    original = value.strip()
    local, at, domain = original.rpartition("@")
    host = host_name(domain) if at else None
    if (
        not at
        or not _LOCAL.match(local)
        or len(local) > 64
        or len(original) > 254
        or host is None
        or host.rsplit(".", 1)[-1] in RESERVED_TLDS
        or root_domain(host) is None
    ):
        raise Invalid([validation_item("invalid_string", ["email_address"], "Invalid email", validation="email")])
    assert host is not None
    root = root_domain(host) or host
    local = local.lower()
    return {
        "original_email_address": original,
        "email_address": f"{local}@{host}",
        "email_domain": host,
        "email_root_domain": root,
        "email_local_specifier": local,
        "attribute_type": "email-address",
    }


# -- phones ----------------------------------------------------------------------------------


def coerce_phone(item: Any, ctx: Options) -> JSON:
    """phone-number: ``+``-prefixed or with a country code, stored in E.164 as `phone_number`."""
    country: Any = None
    if isinstance(item, dict):
        extra = set(item) - {"original_phone_number", "country_code"}
        if extra:
            raise Invalid([unrecognized_keys(extra)])
        number = item.get("original_phone_number", _MISSING)
        country = item.get("country_code")
    else:
        number = item
    if not isinstance(number, str):
        raise _type_error("string", number, ["original_phone_number"])
    if country is not None and (not isinstance(country, str) or country not in COUNTRY_CODES):
        raise Invalid([validation_item("invalid_enum_value", ["country_code"], "Invalid country code",
                                       received=country)])  # fmt: skip
    if not number.strip().startswith("+") and country is None:
        raise Invalid([validation_item("invalid", ["original_phone_number"], "Invalid phone number")])
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        parsed = None
    check = phonenumbers.is_valid_number if ctx.phone_validation == "valid" else phonenumbers.is_possible_number
    if parsed is None or not check(parsed):
        raise Invalid([validation_item("invalid", ["original_phone_number"], "Invalid phone number")])
    # The read shape's country_code is never null: a number outside any region's plan (only
    # reachable with phone_validation="possible") takes its calling code's main region.
    region = phonenumbers.region_code_for_number(parsed)
    if not region and parsed.country_code is not None:  # a parsed number always has a calling code
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    if region not in COUNTRY_CODES:
        # Non-geographic numbers (+800 freephone, +881 satellite: region "001") have no country
        # code Attio's read shape could carry, so Attio cannot store them [unconfirmed].
        raise Invalid([validation_item("invalid", ["original_phone_number"], "Invalid phone number")])
    return {
        "original_phone_number": number,
        "country_code": region,
        "phone_number": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        "attribute_type": "phone-number",
    }


# -- locations and names ---------------------------------------------------------------------


def coerce_location(item: Any, ctx: Options) -> JSON:
    """location: a free string (parsed: `locations.parse_location`) or an object naming all ten keys."""
    if isinstance(item, str):
        parsed = parse_location(item, COUNTRY_CODES)
        if all(v is None for v in parsed.values()):  # nothing but spaces and punctuation
            raise Invalid([validation_item("invalid", [], "Invalid location")])
        return {**parsed, "attribute_type": "location"}
    if not isinstance(item, dict):
        raise _type_error("object", item)
    errors: list[JSON] = []
    for key in LOCATION_KEYS:
        if key not in item:
            errors.append(validation_item("invalid_type", [key], "Required", expected="string", received="undefined"))
        elif item[key] is not None and not isinstance(item[key], str):
            received = json_type_name(item[key])
            errors.append(validation_item("invalid_type", [key], f"Expected string, received {received}",
                                          expected="string", received=received))
    extra = set(item) - set(LOCATION_KEYS)
    if extra:
        errors.append(unrecognized_keys(extra))
    if errors:
        raise Invalid(errors)
    out = {key: item[key] for key in LOCATION_KEYS}
    if out["country_code"] is not None and out["country_code"] not in COUNTRY_CODES:
        errors.append(validation_item("invalid_enum_value", ["country_code"], "Invalid country code"))
    for key, pattern in (("latitude", _LATITUDE), ("longitude", _LONGITUDE)):
        if out[key] is not None:
            if not pattern.match(out[key]):
                errors.append(validation_item("invalid_string", [key], f"Invalid {key}", validation="regex"))
            elif "." in out[key] and len(out[key].split(".")[1]) > 9:
                out[key] = f"{float(out[key]):.9f}"  # stored with up to 9 decimal places
    if errors:
        raise Invalid(errors)
    return {**out, "attribute_type": "location"}


def coerce_personal_name(item: Any, ctx: Options) -> JSON:
    """personal-name: all three keys, or ``"Last, First"`` (no comma: all first name)."""
    if isinstance(item, str):
        # "Last name(s), First name(s)"; no comma makes it all the first name (api-notes 4.2).
        last, comma, first = item.partition(",")
        first, last = (first.strip(), last.strip()) if comma else (item.strip(), "")
        return {"first_name": first, "last_name": last, "full_name": f"{first} {last}".strip(),
                "attribute_type": "personal-name"}  # fmt: skip
    if not isinstance(item, dict):
        raise _type_error("object", item)
    errors = [
        validation_item("invalid_type", [key], "Required" if key not in item else
                        f"Expected string, received {json_type_name(item[key])}", expected="string",
                        received="undefined" if key not in item else json_type_name(item[key]))
        for key in ("first_name", "last_name", "full_name")
        if not isinstance(item.get(key), str)
    ]  # fmt: skip
    # Other keys are dropped, not reported: the live error for {"value": "..."} lists exactly
    # the three missing keys (api-notes 1.5), as a non-strict zod object does.
    if errors:
        raise Invalid(errors)
    return {"first_name": item["first_name"], "last_name": item["last_name"], "full_name": item["full_name"],
            "attribute_type": "personal-name"}  # fmt: skip


class Options:
    """What a scalar coercer needs to know beyond the item (strictness, the currency code)."""

    __slots__ = ("currency_code", "phone_validation", "strict_precision")

    def __init__(
        self, *, strict_precision: bool = True, currency_code: str | None = None, phone_validation: str = "possible"
    ) -> None:
        self.strict_precision = strict_precision
        self.currency_code = currency_code
        self.phone_validation = phone_validation


SCALAR_COERCERS: dict[str, Callable[[Any, Options], JSON]] = {
    "text": coerce_text,
    "number": coerce_number,
    "rating": coerce_rating,
    "checkbox": coerce_checkbox,
    "currency": coerce_currency,
    "date": coerce_date,
    "timestamp": coerce_timestamp,
    "domain": coerce_domain,
    "email-address": coerce_email,
    "phone-number": coerce_phone,
    "location": coerce_location,
    "personal-name": coerce_personal_name,
}


def value_key(payload: JSON) -> Hashable:
    """What makes two values of an attribute "the same" (dedupe, uniqueness, matching).

    Emails compare lower-cased (they are stored so), phones by their E.164 form, select options
    and statuses by id, references by their target.
    """
    kind = payload["attribute_type"]
    key: Hashable
    if kind == "email-address":
        key = payload["email_address"]
    elif kind == "domain":
        key = payload["domain"]
    elif kind == "phone-number":
        key = payload["phone_number"]
    elif kind == "currency":
        key = payload["currency_value"]
    elif kind == "select":
        key = payload["option"]["id"]["option_id"]
    elif kind == "status":
        key = payload["status"]["id"]["status_id"]
    elif kind == "record-reference":
        key = (payload["target_object"], payload["target_record_id"])
    elif kind == "actor-reference":
        key = (payload["referenced_actor_type"], payload["referenced_actor_id"])
    elif kind in ("personal-name", "location", "interaction"):
        key = tuple(sorted((k, repr(v)) for k, v in payload.items()))
    else:
        key = payload["value"]
    return key
