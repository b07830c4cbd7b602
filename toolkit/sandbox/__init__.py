"""The sandbox: an in-memory Attio REST API v2 that behaves like Attio (issue 3).

In-process use::

    from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app

    app = create_app(SandboxConfig(activate={"users", "workspaces"}))
    client = httpx.AsyncClient(transport=SandboxTransport(app), base_url="https://api.attio.com",
                               headers={"Authorization": f"Bearer {app.config.token}"})
    ...
    app.log  # every request: method, path, query, body, status, response, fault

Over loopback: ``attio-sync sandbox`` (`toolkit.sandbox.command:sandbox`) or `serve_in_thread(app)`.
The sandbox models Attio's value rules on its own and never imports the toolkit's validation.
"""

from __future__ import annotations

from .app import LoggedRequest, SandboxApp, create_app
from .problems import ApiProblem
from .config import DEFAULT_TOKEN, FaultSpec, SandboxConfig
from .seed import SeedError, from_schema_dict, load_seed_file
from .standard import standard_schema
from .transport import SandboxSyncTransport, SandboxTransport, serve_in_thread

__all__ = [
    "ApiProblem",
    "DEFAULT_TOKEN",
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
