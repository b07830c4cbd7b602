"""Every exception attio-sync raises, grouped by what the caller should do about it.

```
AttioSyncError                    root: catch this to catch everything of ours
├── ConfigError                   fix the settings (flag, env var) and run again
│   └── MappingError              fix the mapping file: every problem has its file, line and key
├── CacheError                    the local database could not be read or written
│   ├── MigrationError            ...or could not be brought to the current schema
│   └── RecordingError            a run stopped: outcomes could not be committed (lists them)
├── LeaseError                    another run sends to the workspace from this database
│   ├── LeaseHeldError            ...and did not stop within the wait (carries its `owner`)
│   └── LeaseLostError            ...took this run's lease over after its heartbeat went stale
├── SchemaError                   the cached workspace schema is missing or cannot serve
├── InvalidInputError             this input is wrong; skip it, report it, go on
└── ApiError                      Attio (or the way to it) answered with a failure
    ├── RetryableApiError         try again later: nothing is known to be wrong with the request
    │   ├── RateLimitError        429; carries `retry_after` (seconds)
    │   ├── ServerError           5xx
    │   ├── TransportError        timeout, refused or dropped connection (no HTTP status)
    │   └── OutageError           Attio kept failing past the outage timeout; carries `since`, `failures`
    └── FatalApiError             do not retry: the same request will fail the same way
        ├── AuthError             401, 403 (bad key, missing scope, billing)
        ├── RedirectError         3xx: the base URL is not Attio's API origin; carries `location`
        ├── NotFoundError         404 (unknown object, record, attribute or endpoint)
        ├── ConflictError         409, and 400 `uniqueness_conflict`
        ├── InvalidRequestError   other 4xx (validation_type, value_not_found, missing_value...)
        └── PaginationLoopError   a paginated endpoint served the same page twice
```

Foreign exceptions (httpx, SQLAlchemy) are translated at exactly one place each, always with
``raise ... from exc``: `toolkit.client` for HTTP, `toolkit.cache` for the database.

No message here ever contains the API key: errors are built from the method, the path and
Attio's answer, never from request headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    # root
    "AttioSyncError",
    # set-up and local state
    "CacheError",
    "ConfigError",
    "MappingError",
    "MappingProblem",
    "LeaseError",
    "LeaseHeldError",
    "LeaseLostError",
    "MigrationError",
    "RecordingError",
    "SchemaError",
    # input
    "InvalidInputError",
    # Attio
    "ApiError",
    "AuthError",
    "ConflictError",
    "FatalApiError",
    "InvalidRequestError",
    "NotFoundError",
    "OutageError",
    "PaginationLoopError",
    "RateLimitError",
    "RedirectError",
    "RetryableApiError",
    "ServerError",
    "TransportError",
]


class AttioSyncError(Exception):
    """The root of every error attio-sync raises on purpose."""


class ConfigError(AttioSyncError):
    """The settings are incomplete or invalid; every problem found is in `errors`."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class MappingProblem:
    """One thing wrong with a mapping file, and where."""

    file: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class MappingError(ConfigError):
    """The mapping file cannot be used; `problems` lists each with its file, line and key."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        self.problems = list(problems)
        super().__init__([str(p) for p in self.problems])

    def __str__(self) -> str:
        return "\n".join(self.errors)


class CacheError(AttioSyncError):
    """The local cache and audit database could not be opened, read or written."""


class MigrationError(CacheError):
    """The database could not be upgraded to the schema this version of attio-sync needs."""


class RecordingError(CacheError):
    """The database refused to commit outcomes for longer than the run would wait: the run stops.

    `lines` are the input lines whose outcomes are not recorded; a later run sends them again.
    """

    def __init__(self, message: str, lines: Sequence[int]) -> None:
        self.lines = list(lines)
        super().__init__(message)


class LeaseError(AttioSyncError):
    """Another run holds the send lease of this workspace in this database."""


class LeaseHeldError(LeaseError):
    """Another run holds the lease and did not let go within the wait; `owner` says who."""

    def __init__(self, message: str, owner: Any) -> None:
        super().__init__(message)
        self.owner = owner


class LeaseLostError(LeaseError):
    """This run's lease was taken over (its heartbeat had gone stale): it stopped sending."""


class SchemaError(AttioSyncError):
    """The cached workspace schema is missing or does not hold what was asked for."""


class InvalidInputError(AttioSyncError):
    """One input (an event, a value, a mapping entry) is wrong; the run can go on without it."""


class ApiError(AttioSyncError):
    """A request to Attio failed.

    Attributes hold everything Attio said, so the audit log can keep it and a user can quote it
    to Attio support: `method`, `path`, `status` (None when no HTTP answer came), Attio's
    `type`, `code`, `message` and `validation_errors`, the `x-attio-execution-id` header as
    `execution_id`, and the raw `body` text when it was not JSON (a proxy's HTML page).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        validation_errors: Sequence[Mapping[str, Any]] = (),
        execution_id: str | None = None,
        body: str | None = None,
    ) -> None:
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.type = type
        self.code = code
        self.validation_errors = [dict(item) for item in validation_errors]
        self.execution_id = execution_id
        self.body = body
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}"
        what = f"{self.status} {self.code}" if self.code else f"{self.status or 'no answer'}"
        text = f"{where} -> {what}: {self.message}"
        for item in self.validation_errors:
            path = ".".join(str(part) for part in item.get("path", ()))
            text += f"\n  - {path or '(body)'}: {item.get('message', item)}"
        if self.execution_id:
            text = f"[execution {self.execution_id}] {text}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, path={self.path!r}, "
            f"status={self.status!r}, code={self.code!r}, message={self.message!r}, "
            f"execution_id={self.execution_id!r})"
        )


class RetryableApiError(ApiError):
    """A failure that may pass on a later attempt: nothing is known to be wrong with the request."""


class RateLimitError(RetryableApiError):
    """Attio answered 429. `retry_after` is the wait it asked for, in seconds (None if absent)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **fields)


class ServerError(RetryableApiError):
    """Attio (or a proxy in front of it) answered 5xx."""


class TransportError(RetryableApiError):
    """No usable HTTP answer: a timeout, a refused or a dropped connection.

    `sent` says whether the request may have reached Attio: False only when the connection
    was never made, so even a non-idempotent request is safe to send again.
    """

    def __init__(self, message: str, *, sent: bool = True, **fields: Any) -> None:
        self.sent = sent
        super().__init__(message, **fields)


class OutageError(RetryableApiError):
    """Attio kept failing (5xx, timeouts, refused connections) for longer than the outage timeout.

    Raised by the client's circuit breaker (`toolkit.breaker`) for every request waiting for
    Attio to come back, and every new one, without sending it. Nothing is known to be wrong with
    the requests: the same command, run later, sends them again.

    Attributes:
        since: when the first failure of the streak happened (seconds since the epoch).
        failures: how many requests failed in a row since then.
        timeout: the outage timeout that ran out, in seconds.
        last: the last failure seen (None when unknown).
    """

    def __init__(self, message: str, *, since: float, failures: int, timeout: float,
                 last: ApiError | None = None, **fields: Any) -> None:
        self.since = since
        self.failures = failures
        self.timeout = timeout
        self.last = last
        super().__init__(message, **fields)


class FatalApiError(ApiError):
    """A failure that will repeat: the request or the credentials must change first."""


class AuthError(FatalApiError):
    """401 or 403: the key is missing, invalid, lacks a scope, or the plan lacks the feature."""


class RedirectError(FatalApiError):
    """Attio answered a 3xx redirect: the base URL is probably wrong (it should be the API's origin,
    e.g. https://api.attio.com). Redirects are never followed. `location` is where it pointed."""

    def __init__(self, message: str, *, location: str | None = None, **fields: Any) -> None:
        self.location = location
        super().__init__(message, **fields)


class NotFoundError(FatalApiError):
    """404: the object, record, attribute or endpoint does not exist (or is not activated)."""


class ConflictError(FatalApiError):
    """A value is already held elsewhere: 409, or 400 `uniqueness_conflict`."""


class InvalidRequestError(FatalApiError):
    """Any other 4xx: Attio refused the request as written (see `code` and `validation_errors`)."""


class PaginationLoopError(FatalApiError):
    """A paginated endpoint served the same page twice: stop rather than loop forever."""
