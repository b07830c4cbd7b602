"""Contact types: email-address, domain and phone-number (api-notes 4.2).

Each uses the library made for the job, memoised per distinct input with `functools.lru_cache`
(events repeat the same person many times, and these checks dominate the cost of a value):

- email-validator, never with DNS (``check_deliverability=False``); plus Attio's own refusal
  of the reserved ``.test``, ``.invalid``, ``.example`` and ``.localhost`` [3p-live]. An address
  is sent with its casing as typed: Attio keeps it as ``original_email_address`` and compares
  addresses without case (`email_comparison_key` is that comparison, for matching and ordering).
  Its checks of the part after the @ are memoised per domain too (`_plain_address_valid`).
- publicsuffixlist with its bundled list (ICANN section only; never fetched), so a domain must
  end in a real public suffix and have a registrable part. URLs are reduced to their host.
- phonenumbers: E.164 out; national numbers need a region (from the mapping); numbers that
  are possible but not valid (555 numbers) pass with a warning, as the issue asks. Validity is
  phonenumbers' own rule, asked of its metadata in one pass (`_region_and_validity`).

The memoised helpers return plain tuples (never raise) so a cached answer can be replayed
into any context.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from email_validator.syntax import validate_email_domain_name, validate_email_length, validate_email_local_part
from publicsuffixlist import PublicSuffixList

from .result import Context, Quick
from .scalars import REFUSED, clean_str, unwrap

__all__ = [
    "COUNTRY_CODES",
    "RESERVED_TLDS",
    "check_domain",
    "check_email",
    "check_phone",
    "comparison_form",
    "email_comparison_key",
    "fast_email",
    "fast_phone",
    "normalise_domain",
    "normalise_email",
]

#: Country codes Attio takes for phone and location values (api-notes 4.2, the spec enum).
COUNTRY_CODES = frozenset(
    "AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BA BW BV BR "
    "IO BN BG BF BI KH CM CA CV KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU CW CY CZ DK DJ DM "
    "DO EC EG SV GQ ER EE ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW "
    "GY HT HM VA HN HK HU IS IN ID IR IQ IE IM IL IT JM JP JE JO KZ KE KI KR KW KG LA LV LB LS LR "
    "LY LI LT LU MO MK MG MW MY MV ML MT MH MQ MR MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP NL "
    "AN NC NZ NI NE NG NU NF MP NO OM PK PW PS PA PG PY PE PH PN PL PT PR QA RE RO RU RW BL SH KN "
    "LC MF PM VC WS SM ST SA SN SS RS SC SL SG SK SI SB SO ZA GS ES LK SD SR SJ SZ SE CH SY TW TJ "
    "TZ TH TL TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY UZ VU VE VN VG VI WF EH YE ZM ZW BQ "
    "KP SX XK AC".split()
)

#: Special-use TLDs Attio refuses in email addresses [3p-live]; refused for domains as well.
RESERVED_TLDS = frozenset({"test", "invalid", "example", "localhost"})

#: Distinct inputs each memo keeps (the most recent): the hot set of a stream that repeats its
#: people. At 65,536 the four memos held 40 MB of a million-event dry run whose 100,000 people
#: came back too far apart for any memo to help; at 4,096 they hold under 3 MB.
_CACHE = 4_096
_EMAIL_MAX = 320  # RFC 5321 path limit; email-validator refuses anything over 254 anyway
_DOMAIN_MAX = 2048  # a long URL, reduced to its host below
_PHONE_MAX = 64
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The bundled copy only: PublicSuffixList() never touches the network unless asked to update.
_PSL = PublicSuffixList(only_icann=True, accept_unknown=False)

_POSSIBLE_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "the country code does not exist",
    phonenumbers.ValidationResult.TOO_SHORT: "too short to be a phone number",
    phonenumbers.ValidationResult.TOO_LONG: "too long to be a phone number",
    phonenumbers.ValidationResult.INVALID_LENGTH: "not a possible length for a number of this country",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local-only number (no area code)",
}


# -- email -----------------------------------------------------------------------------------


@lru_cache(maxsize=_CACHE)
def normalise_email(text: str) -> tuple[str | None, str | None]:
    """``(address, None)`` for a valid address (ASCII, casing as typed), or ``(None, reason)``.

    The casing is kept: Attio keeps the address as written (``original_email_address``) beside
    its lower-cased ``email_address`` [3p-live], so what a person typed reaches Attio as typed;
    comparisons go through `email_comparison_key`. ``allow_smtputf8=False``: Attio's handling
    of non-ASCII local parts is unknown, so those are refused (the safe side); a non-ASCII
    domain is sent in its ASCII (punycode) form.
    """
    return _normalise_email(text)


def _normalise_email(text: str, *, plain_route: bool = True) -> tuple[str | None, str | None]:
    """`normalise_email`, unmemoised; ``plain_route=False`` asks `validate_email` even of a plain
    address (tests hold the two ways to the same answers)."""
    ascii_form = None
    if not (plain_route and _plain_address_valid(text)):
        try:
            found = validate_email(text, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            return None, str(exc)
        ascii_form = found.ascii_email or found.normalized
    local, _, domain = text.strip().rpartition("@")
    # email-validator lower-cases the domain; the typed one is kept when it is plain ASCII.
    if domain.isascii():
        address = f"{local}@{domain.rstrip('.')}"
    else:
        assert ascii_form is not None  # a non-ASCII address never takes the plain route
        address = ascii_form
    tld = address.rsplit(".", 1)[-1].lower()
    if tld in RESERVED_TLDS:
        return None, f"the .{tld} top-level domain is reserved; Attio refuses it"
    return address, None


# email-validator checks an address in parts: the local part, then the domain, then the lengths
# of the whole. Most of its time goes on the domain, character by character, and a stream names
# the same few domains again and again. So for a plain ASCII address (one @, no quotes, angle
# brackets or domain literal: then `validate_email`'s splitting is a split at the @, and Unicode
# normalisation changes nothing) the verdict is email-validator's own: its local-part, domain
# and length checks, called as `validate_email` calls them, with the domain's run once per
# domain. Only an acceptance is taken from here; any refusal, and any other address, goes
# through `validate_email` whole, so every reason given is its own. The route was read from
# email-validator 2.4's `validate_email`, and is taken only with that version (with another,
# every address goes through `validate_email`); tests/test_validate_path.py holds it to
# `validate_email`'s verdicts on tricky and generated addresses.

_PLAIN_ROUTE = email_validator.__version__.split(".")[:2] == ["2", "4"]


def _plain_address_valid(text: str) -> bool:
    """True when `text` is a plain ASCII address that email-validator accepts (see above); False
    when it refuses it, or when `text` is not plain (then `validate_email` must say)."""
    if not _PLAIN_ROUTE or not text.isascii() or text.count("@") != 1 or '"' in text or "<" in text:
        return False
    local, _, domain = text.partition("@")
    if not domain or domain[0] == "[":
        return False
    # The module's defaults, read when called, as `validate_email` reads them.
    defaults = email_validator
    try:
        local_info = validate_email_local_part(local, allow_smtputf8=False, quoted_local_part=False,
                                               allow_empty_local=defaults.ALLOW_EMPTY_LOCAL, strict=defaults.STRICT)
    except EmailNotValidError:
        return False
    names = _email_domain(domain, defaults.TEST_ENVIRONMENT, defaults.GLOBALLY_DELIVERABLE)
    if names is None:
        return False
    found = ValidatedEmail()
    found.original = text
    found.local_part = local_info["local_part"]
    found.ascii_local_part = local_info["ascii_local_part"]
    if found.ascii_local_part is not None and found.ascii_local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        found.ascii_local_part = found.ascii_local_part.lower()
        found.local_part = found.local_part.lower()
    found.domain, found.ascii_domain = names
    found.normalized = found.local_part + "@" + found.domain
    try:
        validate_email_length(found)
    except EmailNotValidError:
        return False
    return True


@lru_cache(maxsize=_CACHE)
def _email_domain(domain: str, test_environment: bool, globally_deliverable: bool) -> tuple[str, str] | None:
    """``(domain, ascii_domain)`` as email-validator normalises the part after the @, or None
    when it refuses it."""
    try:
        found = validate_email_domain_name(domain, test_environment=test_environment,
                                           globally_deliverable=globally_deliverable)
    except EmailNotValidError:
        return None
    return found["domain"], found["ascii_domain"]


def email_comparison_key(address: str) -> str:
    """How Attio tells two addresses apart: without case (api-notes 5.4: a PATCH never repeats
    an address that differs only in case; 4.2: addresses are stored lower-cased)."""
    return address.lower()


def comparison_form(value: Any) -> Any:
    """`value` (a write form, or anything holding write forms) as Attio compares it: every
    ``email_address`` lower-cased, also inside record references. Two values with the same
    comparison form name the same thing in Attio (the same person, the same address), however
    they were typed; the write form itself keeps the typing."""
    if isinstance(value, dict):
        return {k: email_comparison_key(v) if k == "email_address" and isinstance(v, str) else comparison_form(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [comparison_form(v) for v in value]
    return value


def fast_email(item: Any, _index: Any) -> Quick:
    """email-address, when `item` is a string that is already its own normal form (no note)."""
    if type(item) is str and len(item) <= _EMAIL_MAX and item[:7].lower() != "mailto:":
        address = normalise_email(item)[0]
        if address == item:
            return {"email_address": item}, None
    return None


def check_email(item: Any, ctx: Context) -> dict[str, Any] | None:
    """email-address: ``"a@b.com"`` or ``{"email_address": "a@b.com"}``."""
    item = unwrap(item, "email_address", ctx)
    if item is REFUSED:
        return None
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not an email address")
        return None
    text = item.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if len(text) > _EMAIL_MAX:
        ctx.refuse(item, f"{len(text):,} characters is too long for an email address")
        return None
    address, reason = normalise_email(text)
    if address is None:
        hint = None
        if "<" in text and ">" in text:
            hint = "send the address alone, without a display name"
        elif "@" not in text:
            hint = "an email address has an @"
        ctx.refuse(item, reason or "not an email address", hint)
        return None
    if address != item:
        ctx.note(f"wrote {item!r} as {address!r}")
    return {"email_address": address}


# -- domain ----------------------------------------------------------------------------------


@lru_cache(maxsize=_CACHE)
def normalise_domain(text: str) -> tuple[str | None, str | None, str | None]:
    """``(host, note, None)`` for a usable domain, or ``(None, None, reason)``.

    A URL (or anything with a path, port or query) is reduced to its host, as Attio stores
    domains, not URLs (api-notes 4.2, domain); the note says so. The host must end in a public
    suffix and have a registrable label before it ("co.uk" alone is refused).
    """
    raw = text.strip().lower()
    host = raw
    note = None
    if any(c in raw for c in "/:?#@\\"):
        try:
            host = urlsplit(raw if "//" in raw else f"//{raw}").hostname or ""
        except ValueError as exc:
            return None, None, f"not a URL or domain: {exc}"
        note = f"reduced {text.strip()!r} to its host {host!r}"
    if host.endswith("."):
        host = host.rstrip(".")
    if not host:
        return None, None, "no host name in it"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None, None, "not a valid international domain name"
        note = f"wrote {text.strip()!r} as the ASCII domain {host!r}"
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None, None, "not a host name (letters, digits and hyphens, in dot-separated labels)"
    if labels[-1].isdigit():
        return None, None, "an IP address is not a domain"
    if labels[-1] in RESERVED_TLDS:
        return None, None, f"the .{labels[-1]} top-level domain is reserved"
    if _PSL.privatesuffix(host) is None:
        if _PSL.publicsuffix(host) is None:
            return None, None, f"unknown top-level domain .{labels[-1]}"
        return None, None, f"{host!r} is a public suffix, not a domain someone can own"
    if host != raw and note is None:
        note = f"wrote {text.strip()!r} as {host!r}"
    return host, note, None


def check_domain(item: Any, ctx: Context) -> dict[str, Any] | None:
    """domain: ``"app.attio.com"`` or ``{"domain": ...}``; a website URL becomes its host."""
    item = unwrap(item, "domain", ctx)
    if item is REFUSED:
        return None
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not a domain")
        return None
    if len(item) > _DOMAIN_MAX:
        ctx.refuse(item, f"{len(item):,} characters is too long for a domain or URL")
        return None
    host, note, reason = normalise_domain(item)
    if host is None:
        ctx.refuse(item, reason or "not a domain", 'write it as {domain}.{tld}, e.g. "app.attio.com"')
        return None
    if note:
        ctx.note(note)
    elif host != item:
        ctx.note(f"wrote {item!r} as {host!r}")
    return {"domain": host}


# -- phone -----------------------------------------------------------------------------------

_PhoneAnswer = tuple[str | None, str | None, str | None, str | None, str | None]


@lru_cache(maxsize=_CACHE)
def _parse_phone(text: str, region: str | None) -> _PhoneAnswer:
    """``(e164, country_code, warning, reason, hint)``; e164 is None when refused."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return None, None, None, f"not a phone number: {exc._msg}", None
    country, valid = _region_and_validity(number)
    if not valid:  # a valid number is always a possible one, so only the others are asked
        possible = phonenumbers.is_possible_number_with_reason(number)
        if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
            return None, None, None, _POSSIBLE_REASONS.get(possible, "not a possible phone number"), None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    warnings: list[str] = []
    if not valid:
        warnings.append(
            f"{e164} is a possible number but not a valid one in its numbering plan "
            "(a 555 or unassigned number); Attio may refuse it"
        )
        country = region if region in phonenumbers.region_codes_for_country_code(_calling_code(number)) else None
        country = country or phonenumbers.region_code_for_country_code(_calling_code(number))
    if number.extension:
        warnings.append(f"dropped the extension {number.extension}: E.164 has no extensions")
    return e164, (country if country in COUNTRY_CODES else None), "; ".join(warnings) or None, None, None


# phonenumbers.is_valid_number(n) is region_code_for_number(n) followed by
# is_valid_number_for_region(n, region). Called as such, it matches the number against its
# region's patterns twice (the region of a shared country code such as +1 is the first whose
# patterns match), tries each number type in turn (premium rate first, fixed line and mobile
# last), and looks every pattern up in the `re` module's cache. `_region_and_validity` gives the
# same pair from the same metadata and the same rules, each pattern compiled once (the metadata
# is fixed, so that memo is bounded), fixed line and mobile tried first (a number is valid when
# any type matches, so the order changes no answer), and the region's match reused for its
# validity. tests/test_validate_path.py holds it to phonenumbers' own answers for every
# region's example numbers of every type, altered and not.

_PATTERNS: dict[str, re.Pattern[str]] = {}
_NON_GEO = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY


def _pattern(text: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(text)
    if compiled is None:
        compiled = _PATTERNS[text] = re.compile(text)
    return compiled


def _matches(nsn: str, desc: Any) -> bool:
    """Whether a national number matches a number description (its lengths, then its pattern)."""
    if desc is None:
        return False
    lengths = desc.possible_length
    if lengths and len(nsn) not in lengths:
        return False
    pattern = desc.national_number_pattern
    return bool(pattern) and _pattern(pattern).fullmatch(nsn) is not None


def _has_type(nsn: str, metadata: Any) -> bool:
    """Whether the number is of some type in this region: phonenumbers' `number_type` is not UNKNOWN."""
    if not _matches(nsn, metadata.general_desc):
        return False
    if _matches(nsn, metadata.fixed_line):
        return True
    if not metadata.same_mobile_and_fixed_line_pattern and _matches(nsn, metadata.mobile):
        return True
    return any(_matches(nsn, desc) for desc in (
        metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
        metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail))


def _valid_for_region(nsn: str, calling_code: int, region: str) -> bool:
    """phonenumbers.is_valid_number_for_region, given the national significant number."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region.upper())
    if metadata is None or (region != _NON_GEO and calling_code != phonenumbers.country_code_for_valid_region(region)):
        return False
    return _has_type(nsn, metadata)


def _region_and_validity(number: phonenumbers.PhoneNumber) -> tuple[str | None, bool]:
    """``(region_code_for_number(number), is_valid_number(number))``, in one pass."""
    calling_code = _calling_code(number)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(calling_code)
    if regions is None:
        return None, False
    nsn = phonenumbers.national_significant_number(number)
    if len(regions) == 1:
        return regions[0], _valid_for_region(nsn, calling_code, regions[0])
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _pattern(metadata.leading_digits).match(nsn):
                return region, _valid_for_region(nsn, calling_code, region)
        elif _has_type(nsn, metadata):
            if region == _NON_GEO:  # (never in a shared list; is_valid_number_for_region's own rule)
                return region, _valid_for_region(nsn, calling_code, region)
            # Found by its patterns matching, so valid there: is_valid_number_for_region would
            # match the same patterns again, after checking the metadata's country code.
            return region, calling_code == metadata.country_code
    return None, False


def _calling_code(number: phonenumbers.PhoneNumber) -> int:
    """The country calling code of a parsed number (`parse` always sets it; the stubs allow None)."""
    return cast(int, number.country_code)


def check_phone(item: Any, ctx: Context) -> dict[str, Any] | None:
    """phone-number: E.164 text, or ``{"original_phone_number": ..., "country_code": ...}``.

    The write form is always ``{"original_phone_number": <E.164>, "country_code": <alpha-2 or
    null>}``. A number without ``+`` is read in the object's ``country_code``, else in the
    mapping's ``phone_region``, else refused with a hint to add the country code.
    """
    region = ctx.options.phone_region
    given_country = None
    if isinstance(item, dict):
        extra = set(item) - {"original_phone_number", "country_code"}
        if extra or "original_phone_number" not in item:
            ctx.refuse(
                item,
                "a phone object has original_phone_number and (optionally) country_code only",
                'write {"original_phone_number": "+15558675309", "country_code": "US"}',
            )
            return None
        given_country = item.get("country_code")
        if given_country is not None:
            if not isinstance(given_country, str) or given_country.upper() not in COUNTRY_CODES:
                ctx.refuse(item, f"{given_country!r} is not an ISO 3166 alpha-2 country code Attio knows")
                return None
            if given_country != given_country.upper():
                ctx.note(f"upper-cased the country code {given_country!r}")
            given_country = region = given_country.upper()
        item = item["original_phone_number"]
    if isinstance(item, int) and not isinstance(item, bool):
        ctx.note(f"read the number {item} as the phone number text {str(item)!r}")
        item = str(item) if item.bit_length() < 256 else ""
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not a phone number")
        return None
    text = clean_str(item, ctx, limit=10_000)
    if text is None:
        return None
    text = text.strip()
    if text[:4].lower() == "tel:":  # an RFC 3966 link, as copied from a web page
        text = text[4:].strip()
    if len(text) > _PHONE_MAX:
        ctx.refuse(item, f"{len(text):,} characters is too long for a phone number")
        return None
    international = text.startswith("+")
    if not international and region is None:
        ctx.refuse(
            item,
            "no country code: a phone number must start with + and the country code",
            "add the country code (e.g. +1 for the US, +44 for the UK), or set phone_region in the mapping",
        )
        return None
    e164, country, warning, reason, hint = _parse_phone(text, None if international else region)
    if e164 is None:
        ctx.refuse(item, reason or "not a phone number", hint)
        return None
    if international and given_country and given_country != country:
        number = phonenumbers.parse(e164, None)
        if given_country not in phonenumbers.region_codes_for_country_code(_calling_code(number)):
            ctx.refuse(
                item,
                f"the number is from {country or 'another country'}, not {given_country}",
                f"drop country_code or use {country}" if country else "drop country_code",
            )
            return None
        country = given_country
    if not international:
        ctx.note(f"read the national number {text!r} in region {region}: {e164}")
    elif e164 != item:
        ctx.note(f"wrote {item!r} as {e164} (E.164)")
    if warning:
        ctx.warn(warning)
    return {"original_phone_number": e164, "country_code": country}


def fast_phone(item: Any, _index: Any) -> Quick:
    """phone-number, when `item` is international text (``+`` and the country code) of a valid
    number: the write form, and the note `check_phone` makes when it is not E.164 already."""
    if type(item) is not str or item[:1] != "+" or len(item) > _PHONE_MAX or not item.isascii() \
            or "\x00" in item or item[-1:].isspace():
        return None
    e164, country, warning, _, _ = _parse_phone(item, None)
    if e164 is None or warning is not None:
        return None
    return ({"original_phone_number": e164, "country_code": country},
            None if e164 == item else f"wrote {item!r} as {e164} (E.164)")
