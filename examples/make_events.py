"""Write examples/events.jsonl: the demo's input, a few hundred realistic identify and group events.

Deterministic (a seeded random), so the committed file only changes when this script does:

    python examples/make_events.py            # writes examples/events.jsonl

The story: 160 people sign up (identify), join one of 40 workspaces (group, with the user),
some come back later with a new plan or title, and a handful of events are wrong the way
real events are wrong:

- a phone number written without its country (too short to read as a US number),
- a plan that is not an option of the `plan` select,
- a sign-up date whose day and month order cannot be known (03/04/2026: 3 April or 4 March?),
- a line of broken JSON (a payload cut short),
- a `track` event (no action takes it),
- the same messageId sent twice (the second is a duplicate).

User ids look like `usr_0001`; an identify carries the user's workspace as `groupId` (the
example mapping links the user to it), and traits `plan` (a select in the sandbox seed) and
`signed_up_on` (a date) for mappings that map them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
         "Edsger", "Radia", "Tim", "Hedy", "John", "Sophie", "Guido", "Annie", "Donald", "Joan"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
        "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Wilson", "van Rossum", "Easley",
        "Knuth", "Clarke"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Acme", "Vandelay",
             "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Gringotts", "Monarch", "Oscorp", "Pied Piper",
             "Massive Dynamic", "Aperture", "Black Mesa"]
TITLES = ["CTO", "Engineer", "Head of Growth", "Founder", "Product Manager", "Designer", "Data Analyst"]
PLANS = ["Free", "Pro", "Enterprise"]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def make_events(seed: int = 7) -> list[str]:
    """The lines of events.jsonl (JSON text, and the one broken line as it is)."""
    rng = random.Random(seed)
    workspaces = []
    for n, company in enumerate(COMPANIES * 2):
        suffix = "" if n < len(COMPANIES) else " Labs"
        domain = company.lower().replace(" ", "") + ("labs" if suffix else "") + ".example.com"
        workspaces.append({"id": f"ws_{n + 1:03d}", "company": company + suffix, "domain": domain,
                           "name": f"{company}{suffix} workspace"})
    lines: list[str] = []
    clock = START
    count = 0

    def emit(event: dict[str, Any]) -> None:
        nonlocal clock, count
        count += 1
        clock += timedelta(minutes=rng.randint(1, 90))
        event = {"type": event.pop("type"), "messageId": f"msg_{count:04d}", **event, "timestamp": _stamp(clock)}
        lines.append(json.dumps(event))

    people = []
    for n in range(160):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        workspace = workspaces[n % len(workspaces)]
        email = f"{first}.{last}.{n + 1}".lower().replace(" ", "").replace("-", "") + f"@{workspace['domain']}"
        traits: dict[str, Any] = {"email": email, "name": f"{first} {last}", "title": rng.choice(TITLES),
                                  "plan": rng.choice(PLANS),
                                  "signed_up_on": (clock + timedelta(days=n % 9)).date().isoformat()}
        if rng.random() < 0.6:
            traits["phone"] = f"+1 415 555 {rng.randint(0, 9999):04d}"
        if rng.random() < 0.3:
            traits["twitter_handle"] = "@" + first.lower() + str(n + 1)
        user_id = f"usr_{n + 1:04d}"
        people.append((user_id, workspace, traits))
        emit({"type": "identify", "userId": user_id, "groupId": workspace["id"], "traits": traits})
        if n % 4 == 3:  # a group call for every few sign-ups, once each workspace has a member
            member, ws, _ = people[rng.randrange(len(people))]
            emit({"type": "group", "userId": member, "groupId": ws["id"],
                  "traits": {"website": f"https://www.{ws['domain']}/", "companyName": ws["company"],
                             "workspaceName": ws["name"]}})
    for user_id, ws, _ in people[::5]:  # joining a workspace later
        emit({"type": "group", "userId": user_id, "groupId": ws["id"],
              "traits": {"website": ws["domain"], "companyName": ws["company"], "workspaceName": ws["name"]}})
    for user_id, ws, traits in rng.sample(people, 60):  # coming back with a new plan or title
        emit({"type": "identify", "userId": user_id, "groupId": ws["id"],
              "traits": {**traits, "plan": rng.choice(PLANS), "title": rng.choice(TITLES)}})

    # The handful of bad events, among the good ones.
    bad: list[str] = []
    user_id, ws, traits = people[11]
    bad.append(json.dumps({"type": "identify", "messageId": "msg_bad_phone", "userId": user_id,
                           "traits": {**traits, "phone": "7946 0958"}, "timestamp": _stamp(clock)}))
    user_id, ws, traits = people[23]
    bad.append(json.dumps({"type": "identify", "messageId": "msg_bad_plan", "userId": user_id,
                           "traits": {**traits, "plan": "Platinum"}, "timestamp": _stamp(clock)}))
    user_id, ws, traits = people[37]
    bad.append(json.dumps({"type": "identify", "messageId": "msg_bad_date", "userId": user_id,
                           "traits": {**traits, "signed_up_on": "03/04/2026"}, "timestamp": _stamp(clock)}))
    bad.append('{"type": "identify", "messageId": "msg_cut_short", "userId": "' + people[41][0]
               + '", "traits": {"email": ')
    bad.append(json.dumps({"type": "track", "messageId": "msg_track", "userId": people[5][0],
                           "event": "Report Exported", "timestamp": _stamp(clock)}))
    for n, line in enumerate(bad):
        lines.insert(40 + n * 45, line)
    lines.insert(120, lines[100])  # a message sent twice
    return lines


def main() -> None:
    path = Path(__file__).with_name("events.jsonl")
    lines = make_events()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} events to {path}")


if __name__ == "__main__":
    main()
