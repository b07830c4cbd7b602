"""Settings of one sandbox: who may call it, what it holds, how strict and how unreliable it is.

Every knob that models an Attio behaviour api-notes marks **[unconfirmed]** defaults to the
stricter reading, so that a toolkit which passes against the sandbox does not lean on a
leniency Attio may not have.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "DEFAULT_TOKEN",
    "FREE_MAIL_DOMAINS",
    "FaultSpec",
    "ReferenceOutcome",
    "SandboxConfig",
]

#: The token tests use; `attio-sync sandbox` makes a random one per run instead.
#: 64 characters, like a real Attio API key.
DEFAULT_TOKEN = "sandbox" + "0" * 57

#: Personal mailbox providers. Attio documents that a new person brings the company of their email
#: domain (docs.attio.com, standard objects: people, companies) but not which domains are
#: exempt; api-notes section 10 advises skipping the common free-mail providers, and so does
#: every CRM that makes companies from email domains. `SandboxConfig.free_mail_domains` and a
#: seed file's ``free_mail_domains`` replace the list.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "hotmail.com", "hotmail.co.uk",
    "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "yandex.ru", "yandex.com", "mail.ru",
    "qq.com", "163.com", "126.com", "hey.com", "fastmail.com", "zoho.com", "tutanota.com", "mail.com",
    "comcast.net", "verizon.net", "att.net", "btinternet.com", "orange.fr", "free.fr", "libero.it",
})  # fmt: skip

#: What a `target_record_reference` option value makes the sandbox do (see
#: `SandboxConfig.reference_options`): ``"error"`` answers as if the option were absent (no match:
#: 400 value_not_found; several: 400 multiple_match_results); ``"first"`` takes the oldest of
#: several matches; ``"create"`` creates the referenced record from the `match` value when none
#: matches.
ReferenceOutcome = Literal["error", "first", "create"]

_FAULT_KINDS = ("429", "500", "503", "drop_before", "drop_after", "slow")


@dataclass(frozen=True)
class FaultSpec:
    """Shares of requests that go wrong, each drawn independently of the others.

    Attributes:
        rate_429: share answered 429 (rate-limit body, not processed).
        rate_500: share answered 500 (not processed).
        rate_503: share answered 503 (not processed).
        drop_before: share whose connection drops before the request is processed.
        drop_after: share whose connection drops after the request was processed (a write
            happened and the client never heard).
        slow: share answered only after `slow_seconds`.
        slow_seconds: how long a slow answer waits.
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.5

    @property
    def any(self) -> bool:
        """True when any fault can happen."""
        return any((self.rate_429, self.rate_500, self.rate_503, self.drop_before, self.drop_after, self.slow))

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Read ``"429=0.2,500=0.05,503=0.05,drop_before=0.02,drop_after=0.03,slow=0.1:0.5"``.

        Args:
            spec: comma-separated ``kind=share`` pairs; ``slow`` takes ``share:seconds``.
                Empty or None means no faults.

        Returns:
            The parsed spec.

        Raises:
            ValueError: an unknown kind, a share outside 0..1, or shares summing above 1.
        """
        if not spec or not spec.strip():
            return cls()
        values: dict[str, float] = {}
        slow_seconds = cls.slow_seconds
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            kind, sep, raw = part.partition("=")
            kind = kind.strip()
            if not sep or kind not in _FAULT_KINDS:
                raise ValueError(f"unknown fault {part!r}: use {', '.join(k + '=SHARE' for k in _FAULT_KINDS)}")
            if kind == "slow" and ":" in raw:
                raw, seconds = raw.split(":", 1)
                slow_seconds = float(seconds)
                if slow_seconds < 0:
                    raise ValueError(f"slow seconds must not be negative: {part!r}")
            share = float(raw)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"fault share must be between 0 and 1: {part!r}")
            values[kind] = share
        # The status and drop faults exclude one another (one draw picks at most one of them).
        exclusive = sum(v for k, v in values.items() if k != "slow")
        if exclusive > 1.0 + 1e-9:
            raise ValueError(f"fault shares other than slow add up to {exclusive:.3f}, more than 1")
        return cls(
            rate_429=values.get("429", 0.0),
            rate_500=values.get("500", 0.0),
            rate_503=values.get("503", 0.0),
            drop_before=values.get("drop_before", 0.0),
            drop_after=values.get("drop_after", 0.0),
            slow=values.get("slow", 0.0),
            slow_seconds=slow_seconds,
        )

    def draw(self, rng: random.Random) -> tuple[str | None, bool]:
        """Pick this request's fault: (``"429"|"500"|"503"|"drop_before"|"drop_after"|None``, slow).

        Two draws are always taken from `rng`, whatever the outcome, so one request's fate
        never shifts the next one's: the sequence depends on the seed and the count only.
        """
        pick = rng.random()
        slow = rng.random() < self.slow
        edge = 0.0
        for kind, share in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("drop_before", self.drop_before),
            ("drop_after", self.drop_after),
        ):
            edge += share
            if pick < edge:
                return kind, slow
        return None, slow


MultipleMatch = Literal["multiple_match_results", "uniqueness_conflict"]


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes one sandbox instance.

    Attributes:
        token: the only bearer token accepted (also accepted as the Basic-auth user name).
        activate: which of the activatable standard objects (users, workspaces, deals) exist.
        workspace_name: shown by `GET /v2/self`.
        workspace_slug: shown by `GET /v2/self` and used in `web_url`.
        read_rate: reads allowed per clock second (Attio's 100); None turns the limit off.
        write_rate: writes allowed per clock second (Attio's 25); None turns the limit off.
        faults: shares of failures to inject.
        fault_seed: seed of the fault draws (same seed, same sequence).
        latency: seconds every answer waits, to feel like a network (0 by default).
        id_seed: seed of record ids; None means random uuid4s.
        multiple_match: the error code of an assert that matches several records [unconfirmed].
        missing_matching_value: an assert whose values lack the matching attribute either fails
            (``"error"``, 400 validation_type) or creates a record (``"create"``) [unconfirmed].
        refuse_archived_options: refuse archived select options and statuses [unconfirmed].
        refuse_suspended_members: refuse actor references to suspended members [unconfirmed].
        non_writable_code: the error code for writing a non-writable attribute [unconfirmed].
        strict_precision: refuse numbers and currency with more than 4 decimal places and
            fractional ratings, instead of rounding them [unconfirmed]; the toolkit's validation
            refuses them too (README, "Attio behaviours we assume").
        reference_match_requires_unique: a record reference by matching attribute (and the
            `match` of a ``target_record_reference``) must use a unique attribute, as the
            2026-03 OpenAPI text says. Off by default: docs.attio.com's newer guide "Linking
            referenced records" allows any matchable attribute as long as exactly one record
            matches, and the guide is what the toolkit follows.
        target_record_reference: accept the third write form of a record reference,
            ``{"target_object", "target_record_reference": {"match": {slug: value}, ...}}``,
            documented by that guide and absent from the 2026-03 OpenAPI document. Off, such a
            value is refused as a form Attio does not know (400 validation_type).
        reference_options: what each option of a ``target_record_reference`` does, as
            ``{option: {value: outcome}}`` (outcomes: `ReferenceOutcome`). The guide names
            ``if_multiple_matches`` and an option that creates the record when none matches, but
            the option values are [unconfirmed] (api-notes 4.2), so none is known by default and
            any option besides ``match`` is refused (400 validation_type) rather than guessed.
        refuse_archived_attributes: refuse writes to archived attributes [unconfirmed].
        company_from_email: when a person is created with an email address and no company, match
            or create the company of the email's domain and link ``people.company``, as Attio
            does ("When creating a person, a related company record will automatically be
            generated or matched based on the domain of the person's email address":
            docs.attio.com, standard objects: people and companies). On by default, like Attio;
            ``attio-sync sandbox --no-company-from-email`` or a seed's
            ``[workspace] company_from_email = false`` turns it off.
        free_mail_domains: email domains that never make a company (free-mail providers; the
            exceptions are [unconfirmed], api-notes section 10).
        phone_validation: ``"possible"`` (the default) checks the length for the country;
            ``"valid"`` checks numbers against the real numbering plan, as a third party says
            Attio does (api-notes 4.2, [3p]). Attio's own docs and the seed page give
            ``+15558675309`` as the example of a phone value, which is outside the real plan;
            every example of the seed page must work, so the docs' reading is the default.
    """

    token: str = DEFAULT_TOKEN
    activate: frozenset[str] = frozenset()
    workspace_name: str = "Sandbox"
    workspace_slug: str = "sandbox"
    read_rate: int | None = 100
    write_rate: int | None = 25
    faults: FaultSpec = field(default_factory=FaultSpec)
    fault_seed: int = 0
    latency: float = 0.0
    id_seed: int | None = None
    multiple_match: MultipleMatch = "multiple_match_results"
    missing_matching_value: Literal["error", "create"] = "error"
    refuse_archived_options: bool = True
    refuse_suspended_members: bool = True
    non_writable_code: str = "validation_type"
    strict_precision: bool = True
    reference_match_requires_unique: bool = False
    target_record_reference: bool = True
    reference_options: Mapping[str, Mapping[str, ReferenceOutcome]] = field(default_factory=dict)
    refuse_archived_attributes: bool = True
    company_from_email: bool = True
    free_mail_domains: frozenset[str] = FREE_MAIL_DOMAINS
    phone_validation: Literal["valid", "possible"] = "possible"

    def __post_init__(self) -> None:
        unknown = set(self.activate) - {"users", "workspaces", "deals"}
        if unknown:
            raise ValueError(f"only users, workspaces and deals can be activated, not {sorted(unknown)}")
        object.__setattr__(self, "activate", frozenset(self.activate))
        object.__setattr__(self, "free_mail_domains", frozenset(d.lower() for d in self.free_mail_domains))
        for option, outcomes in self.reference_options.items():
            wrong = {v for v in outcomes.values()} - {"error", "first", "create"}
            if option == "match" or wrong:
                raise ValueError(f"reference_options[{option!r}]: an option other than match, whose outcomes are "
                                 f"error, first or create (not {sorted(wrong)})")
        # Read-only all the way down, so one config can be shared by several apps.
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.reference_options.items()}
        object.__setattr__(self, "reference_options", MappingProxyType(frozen))

    @classmethod
    def unlimited(cls, **kwargs: object) -> SandboxConfig:
        """A config with both rate limits off (benchmarks, bulk seeding)."""
        return cls(read_rate=None, write_rate=None, **kwargs)  # type: ignore[arg-type]
