"""Settings: one typed, immutable object, built once, with a documented precedence.

Precedence, highest first: an explicit argument (a CLI flag) > the environment
(`ATTIO_API_KEY`, `ATTIO_BASE_URL`, `ATTIO_SYNC_DB`, `ATTIO_SYNC_OUTAGE_TIMEOUT`) > the default.

The API key is held in a `Secret`, whose `str` and `repr` never show it; only the client
reads it, through `Secret.reveal()`, to build the Authorization header.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = ["DEFAULT_ARRIVAL_ALLOWANCE", "DEFAULT_BASE_URL", "DEFAULT_DB", "DEFAULT_MAX_RESPONSE_BYTES",
           "DEFAULT_OUTAGE_TIMEOUT", "Secret", "Settings", "database_url", "is_loopback"]

#: The help of every --db option (the CLI's and the sandbox's): how a path and a URL differ.
DB_HELP = ("The database: a file path (relative to the current folder) or a SQLAlchemy URL: "
           "sqlite:///relative.db, sqlite:////absolute/path.db, postgresql+psycopg://user@host/db (needs "
           "pip install 'attio-sync[postgres]') [env ATTIO_SYNC_DB; default ./attio-sync.db].")

DEFAULT_BASE_URL: Final = "https://api.attio.com"
DEFAULT_DB: Final = "./attio-sync.db"
#: The largest answer from Attio the client reads (64 MiB); a longer one fails the attempt.
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
#: Seconds Attio may keep failing (5xx, timeouts, refused connections) before a run stops (5 minutes).
DEFAULT_OUTAGE_TIMEOUT: Final = 300.0
#: Seconds within which a request wholly written to the socket is assumed to reach Attio: from
#: then on it no longer counts in its rate budget (`toolkit.ratelimit`). Not measured against
#: Attio itself: raise it (ATTIO_SYNC_ARRIVAL_ALLOWANCE) if Attio answers 429 on a slow link.
DEFAULT_ARRIVAL_ALLOWANCE: Final = 0.050

MISSING_KEY_HINT: Final = (
    "No Attio API key. Set ATTIO_API_KEY in the environment or pass --api-key. "
    "Create a key in Attio under Workspace settings > Developers > Access tokens, with the "
    "scopes record_permission:read-write, object_configuration:read and user_management:read."
)


class _Unset:
    """Marks an argument that was not given (None can be a real value)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


class Secret:
    """A string that does not print itself: `str`, `repr` and f-strings show `'***'`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Call it only where the value must leave the process (a header)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling would write it out: refuse
        raise TypeError("a Secret cannot be pickled")


def is_loopback(host: str) -> bool:
    """True for localhost and any address in 127.0.0.0/8 or ::1."""
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def database_url(value: str) -> str:
    """A SQLAlchemy URL from a path (`./attio-sync.db`) or a URL given as is."""
    if "://" in value:
        return value
    if value == ":memory:":
        return "sqlite://"
    return f"sqlite:///{Path(value).expanduser()}"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to talk to Attio and to the local database.

    Build it with `Settings.load(...)`, which applies the precedence and validates; the
    constructor alone validates nothing.
    """

    api_key: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    database: str = database_url(DEFAULT_DB)
    read_rate: float = 100.0
    write_rate: float = 25.0
    timeout: float = 30.0
    max_attempts: int = 5
    deadline: float = 120.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: How long Attio may keep failing before the client gives up on waiting (`toolkit.breaker`).
    outage_timeout: float = DEFAULT_OUTAGE_TIMEOUT
    #: See `DEFAULT_ARRIVAL_ALLOWANCE`.
    arrival_allowance: float = DEFAULT_ARRIVAL_ALLOWANCE

    @classmethod
    def load(
        cls,
        *,
        api_key: str | None | _Unset = UNSET,
        base_url: str | None | _Unset = UNSET,
        database: str | None | _Unset = UNSET,
        read_rate: float | None | _Unset = UNSET,
        write_rate: float | None | _Unset = UNSET,
        timeout: float | None | _Unset = UNSET,
        max_attempts: int | None | _Unset = UNSET,
        outage_timeout: float | None | _Unset = UNSET,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from explicit values (CLI flags), then the environment, then defaults.

        An argument left UNSET or None falls through to the environment. Every problem is
        collected into one `ConfigError`. The key is not required here: commands that talk
        to Attio call `require_key()`.

        Raises:
            ConfigError: a value is malformed (every problem listed).
        """
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def pick(given: Any, env_name: str | None, default: Any) -> Any:
            if given is not UNSET and given is not None:
                return given
            if env_name and env.get(env_name):
                return env[env_name]
            return default

        key = pick(api_key, "ATTIO_API_KEY", None)
        url = str(pick(base_url, "ATTIO_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")
        db = database_url(str(pick(database, "ATTIO_SYNC_DB", DEFAULT_DB)))

        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problems.append(f"base URL {url!r} is not an http(s) URL")
        elif parts.scheme == "http" and not is_loopback(parts.hostname):
            problems.append(
                f"base URL {url!r} is plain http to a non-loopback host; the API key would travel "
                "unencrypted. Use https (plain http is allowed only for 127.0.0.1/localhost)"
            )
        if parts.path not in {"", "/"}:
            problems.append(f"base URL {url!r} must not have a path (attio-sync adds /v2/...)")

        def number(name: str, value: Any, default: float, kind: type = float, *, zero: bool = False) -> Any:
            """`value` (or `default`) as a `kind` above 0; with `zero`, a finite one of 0 or more."""
            chosen = pick(value, None, default)
            try:
                found = kind(chosen)
            except (TypeError, ValueError):
                problems.append(f"{name} must be a number, got {chosen!r}")
                return default
            if zero and not 0 <= found < float("inf"):
                problems.append(f"{name} must be 0 or more seconds, got {chosen!r}")
                return default
            if not zero and found <= 0:
                problems.append(f"{name} must be above 0, got {chosen!r}")
                return default
            return found

        settings = cls(
            api_key=Secret(str(key).strip()) if key else None,
            base_url=url,
            database=db,
            read_rate=number("read rate", read_rate, 100.0),
            write_rate=number("write rate", write_rate, 25.0),
            timeout=number("timeout", timeout, 30.0),
            max_attempts=number("max attempts", max_attempts, 5, int),
            outage_timeout=number("outage timeout", pick(outage_timeout, "ATTIO_SYNC_OUTAGE_TIMEOUT", None),
                                  DEFAULT_OUTAGE_TIMEOUT),
            arrival_allowance=number("arrival allowance", pick(None, "ATTIO_SYNC_ARRIVAL_ALLOWANCE", None),
                                     DEFAULT_ARRIVAL_ALLOWANCE, zero=True),
        )
        if problems:
            raise ConfigError(problems)
        return settings

    def require_key(self) -> Secret:
        """The API key, or a `ConfigError` that says how to provide one."""
        if not self.api_key:
            raise ConfigError([MISSING_KEY_HINT])
        return self.api_key
