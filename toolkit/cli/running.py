"""What the commands that send (`sync`, `retry`) share: the pre-flight refusal, the interruption."""

from __future__ import annotations

import click

from ..config import Settings
from ..errors import ConfigError
from ..mapping import EventMapping
from ..preflight import check_mapping
from ..schema import WorkspaceSchema
from ..stopping import Stopped
from ..sync import DRAIN_SECONDS
from .common import open_settings_cache

__all__ = ["interrupted", "preflight"]


def preflight(mapping: EventMapping, schema: WorkspaceSchema, settings: Settings, ctx: click.Context) -> None:
    """Refuse to start when the pre-flight check finds an error (the mapping issue): `sync` and
    `retry` refuse the same mappings."""
    pulls = open_settings_cache(ctx, settings).pulls(1)
    findings = check_mapping(mapping, schema, pulled_at=pulls[0].finished_at if pulls else None)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        lines = [f"the mapping cannot work against the cached schema ({len(errors)} errors); nothing was sent:"]
        lines += [f"  {f.action}: {f.field}: {f.message}" + (f" ({f.hint})" if f.hint else "") for f in errors]
        lines.append("Run `attio-sync check` for details, or pass --no-check to sync anyway.")
        raise ConfigError(["\n".join(lines)])


def interrupted(stopped: Stopped, run: str, events: int) -> str:
    """The one line said when a signal stopped a run: `run` names it ("run 3", "the retry of
    run 3"), `events` is how many had finished."""
    by = f" by {stopped.name}" if stopped.signal is not None else ""
    return (f"interrupted{by}: {run} stopped after {events} events. Events finished so far are recorded; those in "
            f"flight were given {DRAIN_SECONDS:.0f}s to finish, and any left will be sent again. Run the same "
            "command again to finish.")
