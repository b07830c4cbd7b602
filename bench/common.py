"""What several benchmarks share: serving the sandbox in a subprocess, and the sync stream's mapping.

The benchmarks are scripts (`python bench/x.py`), so this module is imported from the script's
own folder; it is no part of the package.
"""

from __future__ import annotations

import socket
import time

#: The mapping of the sync streams (bench/sync_requests.py, bench/sync_memory.py): a person's job
#: title and a company's name, traits a sync could resend though unchanged.
MAPPING = """
[[action]]
kind = "identify-user"
[action.person_attributes]
job_title = "$.traits.title"

[[action]]
kind = "group-workspace"
[action.company_attributes]
name = "$.traits.name"
"""
TITLES = ("Engineer", "Designer", "Manager", "Analyst", "Founder", "Sales", "Support", "Marketing")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 15.0) -> None:
    """Return once something accepts connections on 127.0.0.1:port (a server subprocess started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the sandbox server did not start on port {port}")
