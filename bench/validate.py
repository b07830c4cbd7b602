"""Benchmark the sync's validation path against the bare library cost, on the same events.

The events are identify events, each with an email, a phone, a name, a date, a select and two
texts (seven traits), written as JSON lines to a temporary file. Two passes over that file, in
the same run, alternating when ``--repeat`` asks for more than one (the best of each is kept):

- bare: the library calls any validator of these events must make, with no caching: each line
  read from the file (opened in binary) and ``json.loads``-ed, then
  ``email_validator.validate_email(email, check_deliverability=False)``,
  ``phonenumbers.parse(phone, None)`` and ``phonenumbers.format_number(number, E164)``.
- ours: exactly what the sync runs per event before anything is sent: ``read_events`` over the
  file (opened in binary), then ``plan_event(event, mapping, schema)`` with an identify-user
  action (`MAPPING`): the email is its own matching value, the six other traits are mapped to
  person attributes. That is every check of the sync: the reader's (UTF-8, line size, depth,
  lone surrogates, messageId), the event's time, the seven values against their Attio types
  (phone validity included), and the user record's user_id, primary email and link to the
  person. Every memo of `toolkit.values.contact` is emptied before each pass; with one person
  per event only the memo of email domains can then help.

Times are CPU seconds of this process (`time.process_time`), so that other work on the machine
does not count. It prints events per second for both, and the ratio ours / bare (the aim: at
most 1.5). Events come from a fixed seed; ``--people`` sets how many distinct people they are
about (identify streams repeat the same people; ``--people`` equal to ``--events``, the default,
is the worst case: every event a different person, so memoising per distinct input saves
nothing). Two data sets are measured: the people's emails at five common domains (as most
people's are; ours checks each domain once), and each person's at a domain of their own (the
worst case for ours: no memo of it helps); ``--domains N`` measures N domains only.
``--profile`` runs cProfile over one pass of ours instead.

    .venv/bin/python bench/validate.py [--events 100000] [--people N] [--domains N] [--repeat 1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import phonenumbers  # noqa: E402
from email_validator import EmailNotValidError, validate_email  # noqa: E402

from toolkit.events import read_events  # noqa: E402
from toolkit.mapping import EventMapping, parse_mapping  # noqa: E402
from toolkit.plan import plan_event  # noqa: E402
from toolkit.schema import AttributeInfo, ObjectInfo, OptionInfo, WorkspaceInfo, WorkspaceSchema  # noqa: E402
from toolkit.values import contact  # noqa: E402

PEOPLE_ID = "00000001-0000-4000-8000-000000000001"
USERS_ID = "00000001-0000-4000-8000-000000000002"
#: (object, attribute slug, type, extra fields) of the schema: what identify-user writes.
ATTRIBUTES = [
    ("people", "email_addresses", "email-address", {"is_multiselect": True, "is_unique": True}),
    ("people", "phone_numbers", "phone-number", {"is_multiselect": True}),
    ("people", "name", "personal-name", {}),
    ("people", "birthday", "date", {}),
    ("people", "plan", "select", {}),
    ("people", "job_title", "text", {}),
    ("people", "description", "text", {}),
    ("users", "user_id", "text", {"is_unique": True, "is_required": True}),
    ("users", "primary_email_address", "email-address", {"is_unique": True, "is_required": True}),
    ("users", "person", "record-reference", {"config": {"record_reference": {"allowed_object_ids": [PEOPLE_ID]}}}),
]
#: The email is identify-user's own matching value ($.traits.email); the other six are mapped.
MAPPING = """
[[action]]
kind = "identify-user"
[action.person_attributes]
phone_numbers = "$.traits.phone"
name = "$.traits.name"
birthday = "$.traits.birthday"
plan = "$.traits.plan"
job_title = "$.traits.title"
description = "$.traits.bio"
"""
PLANS = ["Free", "Pro", "Enterprise", "Team", "Starter"]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Berners-Lee"]
DOMAINS = ["example.com", "acme.io", "mail.example.org", "corp.co.uk", "startup.dev"]
DOMAIN_WORDS = ["acme", "mail.corp", "startup", "example", "shop"]
TLDS = ["com", "io", "co.uk", "dev", "org"]
TITLES = ["CTO", "Engineer", "Head of Sales", "Founder", "Designer"]
# Area codes and prefixes that make valid numbers (not 555), in three countries.
PHONES = [("+1 415 {0:03d} {1:04d}", 200), ("+44 20 7{0:03d} {1:04d}", 0), ("+33 1 42 {0:02d} {1:02d} 00", 10)]


def build_schema() -> WorkspaceSchema:
    """people and users, with the attributes identify-user writes, and the select's options."""
    ids = {"people": PEOPLE_ID, "users": USERS_ID}
    attributes = tuple(
        AttributeInfo(attribute_id=f"00000002-0000-4000-8000-{n:012d}", object_id=ids[obj], object_slug=obj,
                      api_slug=slug, title=slug, type=kind, position=n, **extra)
        for n, (obj, slug, kind, extra) in enumerate(ATTRIBUTES, start=1)
    )
    plan_id = next(a.attribute_id for a in attributes if a.api_slug == "plan")
    options = tuple(
        OptionInfo(option_id=f"00000003-0000-4000-8000-{n:012d}", attribute_id=plan_id, title=title)
        for n, title in enumerate(PLANS, start=1)
    )
    return WorkspaceSchema(
        workspace=WorkspaceInfo(workspace_id="w"),
        objects=tuple(ObjectInfo(object_id=oid, api_slug=slug) for slug, oid in ids.items()),
        attributes=attributes,
        options=options,
    )


def make_events(count: int, people: int, domains: int | None = None, seed: int = 4) -> list[str]:
    """`count` identify events (JSON text) about `people` distinct people, whose emails are at
    `DOMAINS`, or (given `domains`) at that many distinct domains."""
    rng = random.Random(seed)
    names = [f"{rng.choice(DOMAIN_WORDS)}{k}.{rng.choice(TLDS)}" for k in range(domains or 0)]
    persons = []
    for n in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        pattern, low = rng.choice(PHONES)
        domain = rng.choice(DOMAINS) if domains is None else names[n % domains]
        persons.append(
            {
                "email": f"{first.lower()}.{last.lower()}.{n}@{domain}",
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
        lines.append(json.dumps({"type": "identify", "userId": f"u{n}", "messageId": f"m{n}",
                                 "timestamp": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z", "traits": traits}))
    return lines


def bare(path: Path) -> int:
    """The unavoidable library calls, uncached: json, email-validator, phonenumbers parse + format."""
    accepted = 0
    with path.open("rb") as stream:
        for line in stream:
            traits = json.loads(line)["traits"]
            try:
                validate_email(traits["email"], check_deliverability=False)
                number = phonenumbers.parse(traits["phone"], None)
            except (EmailNotValidError, phonenumbers.NumberParseException):
                continue
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            accepted += 1
    return accepted


def ours(path: Path, mapping: EventMapping, schema: WorkspaceSchema) -> int:
    """What the sync runs per event: `read_events` over the file, then `plan_event`."""
    accepted = 0
    with path.open("rb") as stream:
        for item in read_events(stream):
            if item.event is None or item.problem is not None:
                continue
            accepted += plan_event(item.event, mapping, schema).ok
    return accepted


def clear_caches() -> None:
    """Cold memos for every pass of ours: every memo of `toolkit.values.contact` (emails, domains,
    phones) is emptied. With one person per event, only the memo of email domains then helps."""
    for value in vars(contact).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def measure(path: Path, mapping: EventMapping, schema: WorkspaceSchema, repeat: int) -> tuple[float, int, float, int]:
    """The best CPU seconds of bare and of ours over one file (alternating), and what each accepted."""
    bare_best = ours_best = float("inf")
    bare_ok = ours_ok = 0
    for _ in range(repeat):
        started = time.process_time()
        bare_ok = bare(path)
        bare_best = min(bare_best, time.process_time() - started)
        clear_caches()
        started = time.process_time()
        ours_ok = ours(path, mapping, schema)
        ours_best = min(ours_best, time.process_time() - started)
    return bare_best, bare_ok, ours_best, ours_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=None, help="distinct people (default: one per event)")
    parser.add_argument("--domains", type=int, default=None,
                        help="measure only emails at this many distinct domains (default: both data sets)")
    parser.add_argument("--repeat", type=int, default=1, help="passes of each, alternating; the best is kept")
    parser.add_argument("--profile", action="store_true", help="profile one pass of ours (cProfile) instead")
    args = parser.parse_args()
    people = args.people or args.events
    schema = build_schema()
    mapping = parse_mapping(MAPPING)
    data: list[tuple[str, int | None]] = [
        (f"at {len(DOMAINS)} common domains (ours checks each domain once)", None),
        ("at a domain of their own (the worst case: no memo of ours helps)", people),
    ]
    if args.domains is not None:
        data = [(f"at {args.domains:,} domains", args.domains)]

    print(f"events: {args.events:,} identify events about {people:,} distinct people, 7 traits each, as JSON lines;"
          f" CPU seconds, best of {args.repeat}")
    print("bare  : each line json.loads-ed, email_validator.validate_email(email, check_deliverability=False),"
          " phonenumbers.parse(phone, None), phonenumbers.format_number(number, E164)")
    print("ours  : read_events over the file, plan_event(event, mapping, schema) with an identify-user mapping:"
          " 7 values, user_id, the user's email and link; memos emptied before each pass")
    with tempfile.TemporaryDirectory() as tmp:
        for label, domains in data:
            path = Path(tmp) / "events.jsonl"
            path.write_text("".join(line + "\n" for line in make_events(args.events, people, domains)),
                            encoding="utf-8")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.runcall(ours, path, mapping, schema)
                print(f"ours, emails {label}:")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
                continue
            bare_best, bare_ok, ours_best, ours_ok = measure(path, mapping, schema, args.repeat)
            print(f"emails {label}:")
            print(f"  bare : {args.events / bare_best:>9,.0f} events/s ({bare_best:.2f} s), {bare_ok:,} valid")
            print(f"  ours : {args.events / ours_best:>9,.0f} events/s ({ours_best:.2f} s), {ours_ok:,} planned"
                  " without a problem")
            print(f"  ratio: {ours_best / bare_best:.2f} x the bare cost (aim: at most 1.5)")


if __name__ == "__main__":
    main()
