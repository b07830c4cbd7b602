"""Benchmark value validation: identify events through `toolkit.values.prepare`.

Each event carries an email, a phone, a name, a date, a select and two texts (seven values).
Two passes over the same JSON lines, in the same run:

- bare: ``json.loads`` plus the library calls any validator of these values must make, with
  no caching: ``email_validator.validate_email`` (no DNS) and ``phonenumbers.parse`` +
  ``is_valid_number`` + ``format_number(E164)``.
- ours: ``json.loads`` plus `prepare` for all seven values, starting from cold caches.

It prints events per second for both and the ratio ours / bare (the aim: at most 1.5).
Events come from a fixed seed; ``--people`` sets how many distinct people they are about
(identify streams repeat the same people; ``--people`` equal to ``--events`` is the worst
case, where memoising per distinct input saves nothing).

    .venv/bin/python bench/validate.py [--events 100000] [--people 100000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import phonenumbers  # noqa: E402
from email_validator import EmailNotValidError, validate_email  # noqa: E402

from toolkit.schema import AttributeInfo, ObjectInfo, OptionInfo, WorkspaceInfo, WorkspaceSchema  # noqa: E402
from toolkit.values import (  # noqa: E402
    ValueOptions,
    contact,  # noqa: E402
    prepare,
)

PEOPLE_ID = "00000001-0000-4000-8000-000000000001"
#: trait -> (attribute slug, type, multiselect)
TRAITS = {
    "email": ("email_addresses", "email-address", True),
    "phone": ("phone_numbers", "phone-number", True),
    "name": ("name", "personal-name", False),
    "birthday": ("birthday", "date", False),
    "plan": ("plan", "select", False),
    "title": ("job_title", "text", False),
    "bio": ("description", "text", False),
}
PLANS = ["Free", "Pro", "Enterprise", "Team", "Starter"]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Berners-Lee"]
DOMAINS = ["example.com", "acme.io", "mail.example.org", "corp.co.uk", "startup.dev"]
TITLES = ["CTO", "Engineer", "Head of Sales", "Founder", "Designer"]
# Area codes and prefixes that make valid numbers (not 555), in three countries.
PHONES = [("+1 415 {0:03d} {1:04d}", 200), ("+44 20 7{0:03d} {1:04d}", 0), ("+33 1 42 {0:02d} {1:02d} 00", 10)]


def build_schema() -> WorkspaceSchema:
    attributes = tuple(
        AttributeInfo(
            attribute_id=f"00000002-0000-4000-8000-{n:012d}",
            object_id=PEOPLE_ID,
            object_slug="people",
            api_slug=slug,
            title=slug,
            type=kind,
            is_multiselect=multi,
        )
        for n, (slug, kind, multi) in enumerate(TRAITS.values(), start=1)
    )
    plan_id = next(a.attribute_id for a in attributes if a.api_slug == "plan")
    options = tuple(
        OptionInfo(option_id=f"00000003-0000-4000-8000-{n:012d}", attribute_id=plan_id, title=title)
        for n, title in enumerate(PLANS, start=1)
    )
    return WorkspaceSchema(
        workspace=WorkspaceInfo(workspace_id="w"),
        objects=(ObjectInfo(object_id=PEOPLE_ID, api_slug="people"),),
        attributes=attributes,
        options=options,
    )


def make_events(count: int, people: int, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    persons = []
    for n in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        pattern, low = rng.choice(PHONES)
        persons.append(
            {
                "email": f"{first.lower()}.{last.lower()}.{n}@{rng.choice(DOMAINS)}",
                "phone": pattern.format(rng.randrange(low, 1000) % (100 if "33" in pattern else 1000),
                                        rng.randrange(10_000) % (100 if "33" in pattern else 10_000)),
                "name": f"{last}, {first}" if rng.random() < 0.7 else f"{first} {last}",
                "birthday": f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            }
        )
    lines = []
    for n in range(count):
        person = persons[rng.randrange(people)] if people < count else persons[n]
        traits = {**person, "plan": rng.choice(PLANS), "title": rng.choice(TITLES),
                  "bio": f"Customer since {rng.randrange(2010, 2024)}"}
        lines.append(json.dumps({"type": "identify", "userId": f"u{n}", "messageId": f"m{n}", "traits": traits}))
    return lines


def bare(lines: list[str]) -> int:
    """The unavoidable library calls, uncached."""
    accepted = 0
    for line in lines:
        traits = json.loads(line)["traits"]
        try:
            validate_email(traits["email"], check_deliverability=False)
        except EmailNotValidError:
            continue
        try:
            number = phonenumbers.parse(traits["phone"], None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            accepted += 1
    return accepted


def ours(lines: list[str], schema: WorkspaceSchema) -> int:
    """The same events through `prepare`, every value."""
    options = ValueOptions()
    plan = [(trait, schema.attribute("people", slug)) for trait, (slug, _, _) in TRAITS.items()]
    accepted = 0
    for line in lines:
        traits = json.loads(line)["traits"]
        ok = True
        for trait, attribute in plan:
            if not prepare(traits[trait], attribute, schema, options=options).ok:
                ok = False
        accepted += ok
    return accepted


def clear_caches() -> None:
    contact.normalise_email.cache_clear()
    contact.normalise_domain.cache_clear()
    contact._parse_phone.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=None, help="distinct people (default: one per event)")
    parser.add_argument("--repeat", type=int, default=1, help="passes of each; the best is kept")
    args = parser.parse_args()
    people = args.people or args.events
    lines = make_events(args.events, people)
    schema = build_schema()

    bare_best = ours_best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        bare_ok = bare(lines)
        bare_best = min(bare_best, time.perf_counter() - started)
        clear_caches()
        started = time.perf_counter()
        ours_ok = ours(lines, schema)
        ours_best = min(ours_best, time.perf_counter() - started)
    print(f"events: {args.events:,} identify events about {people:,} distinct people, 7 values each")
    print(f"bare  : {args.events / bare_best:>10,.0f} events/s  "
          f"({bare_best:.2f} s; json + email-validator + phonenumbers; {bare_ok:,} valid)")
    print(f"ours  : {args.events / ours_best:>10,.0f} events/s  "
          f"({ours_best:.2f} s; json + prepare() x 7; {ours_ok:,} accepted)")
    print(f"ratio : {ours_best / bare_best:.2f} x the bare cost (aim: at most 1.5)")


if __name__ == "__main__":
    main()
