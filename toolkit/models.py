"""SQLModel tables of the local cache database.

Every schema row belongs to one pull (`pull_id`). A pull writes a whole new snapshot in one
transaction and only then marks itself complete, so readers (which take the newest complete
pull) never see half a schema, and `schema diff` can compare the last two snapshots.

The API key is never stored: nothing here has a column for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

__all__ = [
    "CachedAttribute",
    "CachedMember",
    "CachedObject",
    "CachedOption",
    "CachedStatus",
    "CachedWorkspace",
    "SchemaPull",
]


class SchemaPull(SQLModel, table=True):
    """One run of `schema pull`: when, from where, what it found, and a hash of the snapshot."""

    __tablename__ = "schema_pull"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime
    finished_at: datetime | None = None
    complete: bool = Field(default=False, index=True)
    base_url: str
    workspace_id: str | None = None
    objects: int = 0
    attributes: int = 0
    options: int = 0
    statuses: int = 0
    members: int = 0
    requests: int = 0
    snapshot_hash: str | None = None


class CachedWorkspace(SQLModel, table=True):
    """What `GET /v2/self` said about the token's workspace (never the token itself)."""

    __tablename__ = "workspace"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    workspace_id: str
    workspace_name: str | None = None
    workspace_slug: str | None = None
    scope: str = ""
    token_level: str | None = None
    authorized_by_workspace_member_id: str | None = None


class CachedObject(SQLModel, table=True):
    """An activated object: one listed by `GET /v2/objects`."""

    __tablename__ = "object"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    object_id: str = Field(primary_key=True)
    api_slug: str = Field(index=True)
    singular_noun: str | None = None
    plural_noun: str | None = None
    created_at: str | None = None


class CachedAttribute(SQLModel, table=True):
    """Every field of Attio's attribute shape, archived attributes included."""

    __tablename__ = "attribute"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    attribute_id: str = Field(primary_key=True)
    object_id: str
    object_slug: str = Field(index=True)
    api_slug: str
    title: str
    description: str | None = None
    type: str
    position: int = 0
    is_system_attribute: bool = False
    is_writable: bool = True
    is_required: bool = False
    is_unique: bool = False
    is_multiselect: bool = False
    is_default_value_enabled: bool = False
    is_archived: bool = False
    default_value: Any | None = Field(default=None, sa_column=Column(JSON))
    relationship: Any | None = Field(default=None, sa_column=Column(JSON))
    config: Any | None = Field(default=None, sa_column=Column(JSON))
    created_at: str | None = None


class CachedOption(SQLModel, table=True):
    """A select option of a select attribute, archived ones included."""

    __tablename__ = "select_option"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    option_id: str = Field(primary_key=True)
    attribute_id: str = Field(index=True)
    title: str
    is_archived: bool = False


class CachedStatus(SQLModel, table=True):
    """A status of a status attribute, archived ones included."""

    __tablename__ = "status"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    status_id: str = Field(primary_key=True)
    attribute_id: str = Field(index=True)
    title: str
    is_archived: bool = False
    celebration_enabled: bool = False
    target_time_in_status: str | None = None


class CachedMember(SQLModel, table=True):
    """A workspace member, the only kind of actor an actor-reference can be written as."""

    __tablename__ = "workspace_member"

    pull_id: int = Field(foreign_key="schema_pull.id", primary_key=True)
    seq: int = 0  # order within the snapshot, as Attio listed it
    workspace_member_id: str = Field(primary_key=True)
    first_name: str | None = None
    last_name: str | None = None
    email_address: str = Field(index=True)
    access_level: str = "member"
    avatar_url: str | None = None
    created_at: str | None = None
