"""attio-sync: keep an Attio workspace in step with identify and group events.

The library is the product; the `attio-sync` command is a thin client of it.
"""

from __future__ import annotations

from .errors import AttioSyncError
from .schema import WorkspaceSchema

__all__ = [
    "AttioSyncError",
    "WorkspaceSchema",
]

__version__ = "0.1.0"
