"""Reading a location written as one string, as Attio does: "Attio will parse the string"
(docs.attio.com, attribute types: location), whatever the order and punctuation of its parts.

Attio does not say how it parses, so this is the sandbox's own reading, chosen to give what a
person would expect for the addresses people write. The parts are split at commas, semicolons
and line breaks, and then recognised by what they are, not by where they stand:

=========================================  ===================================================
part                                       read as
=========================================  ===================================================
a country name, alias or ISO code          ``country_code`` (``"USA"``, ``"United Kingdom"``,
                                           ``"Deutschland"``, ``"FR"``); a two-letter code
                                           that is also a US state or Canadian province
                                           (``CA``, ``DE``) is the region when a ZIP or postal
                                           code of that country is present, or another country
                                           is named
a postcode (US ZIP, UK, Canadian, Dutch    ``postcode``; the text beside it is the region when
or four-to-six digit codes), alone or      it is a known region (``"CA 95014"``), else the
beside a place                             locality (``"75008 Paris"``, ``"London SW1A 2AA"``)
a US state, Canadian province or           ``region``, as written; a US state or Canadian
Australian state, by code or name          province implies the country when none is named
a part that starts or ends with a house    an address line (``line_1`` ... ``line_4``; a fifth
number, or names a street                  and later parts are joined into ``line_4``)
what is left                               the last is the ``locality``; with three or more
                                           left and no region yet, the last is the region and
                                           the one before it the locality
=========================================  ===================================================

A UK or Canadian postcode implies its country too. Coordinates are never guessed (null).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["LOCATION_KEYS", "parse_location"]

LOCATION_KEYS = (
    "line_1", "line_2", "line_3", "line_4", "locality", "region", "postcode", "country_code", "latitude", "longitude",
)  # fmt: skip

_US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "PR": "Puerto Rico",
}  # fmt: skip
_CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}  # fmt: skip
_AU_STATES = {
    "NSW": "New South Wales", "VIC": "Victoria", "QLD": "Queensland", "WA": "Western Australia",
    "SA": "South Australia", "TAS": "Tasmania", "ACT": "Australian Capital Territory", "NT": "Northern Territory",
}  # fmt: skip

#: Country aliases people write that are not a country's name in the tables below.
_COUNTRY_ALIASES = {
    "usa": "US", "u.s.": "US", "u.s.a.": "US", "us of a": "US", "united states of america": "US", "america": "US",
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "uae": "AE", "holland": "NL", "the netherlands": "NL",
    "korea": "KR", "republic of korea": "KR", "czechia": "CZ", "turkiye": "TR", "ivory coast": "CI",
    "north macedonia": "MK", "russian federation": "RU", "viet nam": "VN", "prc": "CN", "hong kong sar": "HK",
}  # fmt: skip
#: Names of countries that are also US states: the state wins ("Atlanta, Georgia").
_STATE_NAMES_FIRST = {"georgia"}

_STREET = re.compile(
    r"\b(street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|way|place|pl|court|ct|square|sq|loop|"
    r"highway|hwy|terrace|parkway|pkwy|close|crescent|row|suite|ste|floor|fl|unit|apt|building|bldg|po box|"
    r"rue|allee|chemin|via|viale|piazza|calle|avenida|plaza|strasse|str|weg|platz|gasse|laan|straat|gracht)\b\.?",
    re.IGNORECASE,
)
_HOUSE_NUMBER = re.compile(r"^\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?\s+\S|\S\s+\d+[A-Za-z]?(?:[-/]\d+)?$")
# One pattern per postcode family, with the country each implies (None: shared by many).
_POSTCODES: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE), "GB"),
    (re.compile(r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b", re.IGNORECASE), "CA"),
    (re.compile(r"\b\d{5}-\d{4}\b"), "US"),
    (re.compile(r"\b\d{4}\s?[A-Z]{2}\b"), "NL"),
    (re.compile(r"\b\d{3}-\d{4}\b"), "JP"),
    (re.compile(r"\b\d{2}-\d{3}\b"), "PL"),
    (re.compile(r"\b\d{4,6}\b"), None),
)


def _fold(text: str) -> str:
    """Lower-case, accents dropped, spaces squeezed: the key names are looked up by."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"\s+", " ", plain).strip().casefold()


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Folded country name -> ISO code: English and five more languages (phonenumbers' own
    table of region names), plus the aliases above."""
    from phonenumbers.geodata.locale import LOCALE_DATA

    found: dict[str, str] = {}
    for code, names in LOCALE_DATA.items():
        for lang in ("en", "de", "fr", "es", "it", "nl", "pt"):
            name = names.get(lang)
            while isinstance(name, str) and name.startswith("*"):
                name = names.get(name[1:])
            if isinstance(name, str) and "," not in name:
                found.setdefault(_fold(name), code)
                found.setdefault(_fold(name.removeprefix("The ")), code)
    found.update(_COUNTRY_ALIASES)
    return found


def _regions() -> dict[str, tuple[str, str]]:
    """Folded region code or name -> (the country it is in, how it is written back)."""
    found: dict[str, tuple[str, str]] = {}
    for country, table in (("US", _US_STATES), ("CA", _CA_PROVINCES), ("AU", _AU_STATES)):
        for code, name in table.items():
            found.setdefault(code.casefold(), (country, code))
            found.setdefault(_fold(name), (country, name))
    return found


_REGIONS = _regions()


def _region(part: str, country: str | None) -> tuple[str, str] | None:
    """(country, region) when `part` names a region of `country` (any country when None)."""
    found = _REGIONS.get(_fold(part))
    if found is None or (country is not None and found[0] != country):
        return None
    return found[0], part.strip()


def _place_and_region(text: str, country: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """``"CA"`` -> (None, CA); ``"Sydney NSW"`` -> ("Sydney", NSW); ``"London"`` -> ("London", None)."""
    whole = _region(text, country)
    if whole is not None:
        return None, whole
    words = text.split()
    for cut in range(1, min(3, len(words) - 1) + 1):  # a region of up to three words after the place
        region = _region(" ".join(words[-cut:]), country)
        if region is not None:
            return " ".join(words[:-cut]), region
    return text, None


def _country(part: str, countries: frozenset[str]) -> str | None:
    folded = _fold(part)
    if folded in _STATE_NAMES_FIRST:
        return None
    code = _country_names().get(folded)
    if code is None and len(folded) == 2 and folded.upper() in countries:
        code = folded.upper()
    return code if code in countries else None


def _is_street(part: str) -> bool:
    return bool(_STREET.search(part)) or bool(_HOUSE_NUMBER.search(part)) and not _postcode(part)


def _postcode(part: str) -> tuple[str, str | None, str] | None:
    """(postcode, the country its format implies, the rest of the part) for the first postcode found."""
    for pattern, country in _POSTCODES:
        match = pattern.search(part)
        if match:
            rest = (part[: match.start()] + " " + part[match.end() :]).strip(" -")
            if country == "US" or (country is None and len(match.group()) == 5 and _region(rest, "US")):
                country = "US"
            return match.group().upper() if country in ("GB", "CA", "NL") else match.group(), country, rest
    return None


def parse_location(text: str, countries: frozenset[str]) -> dict[str, Any]:
    """The ten location keys read from one string (see the module docstring), ``None`` where absent.

    Args:
        text: the location as written.
        countries: the ISO codes a location may carry (the API document's enum).
    """
    parts = [p.strip() for p in re.split(r"[,;\n]+", text) if any(c.isalnum() for c in p)]
    found: dict[str, Any] = dict.fromkeys(LOCATION_KEYS)
    # The country: the last part that names one (a two-letter code only as the very last part).
    country_at = None
    for index in range(len(parts) - 1, -1, -1):
        part = parts[index]
        if len(_fold(part)) == 2 and index != len(parts) - 1:
            continue
        code = _country(part, countries)
        if code is not None:
            country_at, found["country_code"] = index, code
            break
    # The postcode: in a part that is not a street line, nearest the end first.
    implied: str | None = None
    for index in range(len(parts) - 1, -1, -1):
        if index == country_at or _STREET.search(parts[index]):
            continue
        post = _postcode(parts[index])
        if post is None:
            continue
        found["postcode"], implied, beside = post
        if beside:
            place, region = _place_and_region(beside, implied if implied in ("US", "CA") else None)
            if region is not None:
                implied = implied or region[0]
                found["region"] = region[1]
            found["locality"] = place
        parts[index] = ""
        break
    # A two-letter country that is a region here: "Cupertino, CA 95014" or "Toronto, ON, CA, Canada".
    if country_at is not None and len(_fold(parts[country_at])) == 2:
        as_region = _region(parts[country_at], implied if implied in ("US", "CA") else None)
        other = any(_country(p, countries) for i, p in enumerate(parts) if i != country_at and p)
        if as_region is not None and found["region"] is None and (implied == as_region[0] or other):
            found["region"], implied, found["country_code"] = as_region[1], as_region[0], None
            parts[country_at] = ""
            country_at = None
            for index in range(len(parts) - 1, -1, -1):
                code = _country(parts[index], countries) if parts[index] else None
                if code is not None:
                    country_at, found["country_code"] = index, code
                    break
    if country_at is not None:
        parts[country_at] = ""
    left = [p for p in parts if p]
    # Known regions, then the place: what is not an address line.
    if found["region"] is None:
        for index in range(len(left) - 1, -1, -1):
            region = _region(left[index], found["country_code"])
            if region is not None and not _is_street(left[index]) and (len(left) > 1 or found["locality"]):
                found["region"], implied = region[1], implied or region[0]
                del left[index]
                break
    places = [p for p in left if not _is_street(p)]
    if places and found["locality"] is None:
        if found["region"] is None and len(left) >= 3 and len(places) >= 2:
            found["region"] = places[-1]
            left.remove(places.pop())
        found["locality"] = places[-1]
        left.remove(places[-1])
    if found["country_code"] is None and implied in countries:
        found["country_code"] = implied
    if len(left) > 4:
        left = [*left[:3], ", ".join(left[3:])]
    for index, line in enumerate(left):
        found[f"line_{index + 1}"] = line
    return found
