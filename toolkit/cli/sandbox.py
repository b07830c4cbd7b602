"""`attio-sync sandbox`: it lives with the sandbox (`toolkit.sandbox.command`), which never
imports the toolkit's validation code; here it is only named, for the table in `toolkit.cli`."""

from __future__ import annotations

from ..sandbox.command import sandbox

__all__ = ["sandbox"]
