"""The sandbox: an in-memory Attio REST API v2 that behaves like Attio (issue 3).

It models Attio's routes, value coercion, assert semantics, relationships, rate limits and
failures closely enough to develop, test, benchmark and demonstrate the toolkit without Attio.
It is a second opinion, not a mirror: it never imports the toolkit's value validation, so the
two can be held against each other (`tests/test_sandbox_differential.py`).

In-process, with the toolkit's async client::

    from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app

    app = create_app(SandboxConfig(activate={"users", "workspaces"}))
    client = AttioClient(app.config.token, transport=SandboxTransport(app))
    ...
    app.log          # every request: method, path, query, body, status, response, fault
    app.clear_log()
    app.add_record("companies", {"domains": ["acme.com"]})   # seed without a request

`SandboxSyncTransport(app)` does the same for a sync `httpx.Client`; `serve_in_thread(app)`
serves it with uvicorn on 127.0.0.1 and yields the base URL; ``attio-sync sandbox``
(`toolkit.sandbox.command:sandbox`) serves it from the command line.

Modules: `config` (settings and fault spec), `standard` (the standard objects), `seed` (seed
files and pulled schemas), `catalog` (schema lookups and JSON shapes), `values`, `locations` and
`coercion` (Attio's acceptance rules per type), `store` (records, assert, relationships and the
company a new person brings), `query`
(filters and sorts), `handlers` (one function per route), `app` (ASGI, auth, limits, faults,
log), `faults`, `transport`, `command`.
"""

from __future__ import annotations

from .app import LoggedRequest, SandboxApp, create_app
from .config import DEFAULT_TOKEN, FREE_MAIL_DOMAINS, FaultSpec, SandboxConfig
from .problems import ApiProblem
from .seed import SeedError, from_schema_dict, load_seed_file
from .standard import standard_schema
from .transport import SandboxSyncTransport, SandboxTransport, serve_in_thread

__all__ = [
    "ApiProblem",
    "DEFAULT_TOKEN",
    "FREE_MAIL_DOMAINS",
    "FaultSpec",
    "LoggedRequest",
    "SandboxApp",
    "SandboxConfig",
    "SandboxSyncTransport",
    "SandboxTransport",
    "SeedError",
    "create_app",
    "from_schema_dict",
    "load_seed_file",
    "serve_in_thread",
    "standard_schema",
]
