"""The schema cache: pulls, workspace, objects, attributes, options, statuses, members.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _pull_key() -> sa.Column:
    return sa.Column("pull_id", sa.Integer(), sa.ForeignKey("schema_pull.id"), primary_key=True)


def _seq() -> sa.Column:
    return sa.Column("seq", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "schema_pull",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.String(), nullable=True),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.Integer(), nullable=False),
        sa.Column("options", sa.Integer(), nullable=False),
        sa.Column("statuses", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("snapshot_hash", sa.String(), nullable=True),
    )
    op.create_index("ix_schema_pull_complete", "schema_pull", ["complete"])
    op.create_table(
        "workspace",
        _pull_key(),
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("workspace_name", sa.String(), nullable=True),
        sa.Column("workspace_slug", sa.String(), nullable=True),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("token_level", sa.String(), nullable=True),
        sa.Column("authorized_by_workspace_member_id", sa.String(), nullable=True),
    )
    op.create_table(
        "object",
        _pull_key(),
        _seq(),
        sa.Column("object_id", sa.String(), primary_key=True),
        sa.Column("api_slug", sa.String(), nullable=False),
        sa.Column("singular_noun", sa.String(), nullable=True),
        sa.Column("plural_noun", sa.String(), nullable=True),
        sa.Column("created_at", sa.String(), nullable=True),
    )
    op.create_index("ix_object_api_slug", "object", ["api_slug"])
    op.create_table(
        "attribute",
        _pull_key(),
        _seq(),
        sa.Column("attribute_id", sa.String(), primary_key=True),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("object_slug", sa.String(), nullable=False),
        sa.Column("api_slug", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_system_attribute", sa.Boolean(), nullable=False),
        sa.Column("is_writable", sa.Boolean(), nullable=False),
        sa.Column("is_required", sa.Boolean(), nullable=False),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("is_multiselect", sa.Boolean(), nullable=False),
        sa.Column("is_default_value_enabled", sa.Boolean(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("default_value", sa.JSON(), nullable=True),
        sa.Column("relationship", sa.JSON(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.String(), nullable=True),
    )
    op.create_index("ix_attribute_object_slug", "attribute", ["object_slug"])
    op.create_table(
        "select_option",
        _pull_key(),
        _seq(),
        sa.Column("option_id", sa.String(), primary_key=True),
        sa.Column("attribute_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_select_option_attribute_id", "select_option", ["attribute_id"])
    op.create_table(
        "status",
        _pull_key(),
        _seq(),
        sa.Column("status_id", sa.String(), primary_key=True),
        sa.Column("attribute_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("celebration_enabled", sa.Boolean(), nullable=False),
        sa.Column("target_time_in_status", sa.String(), nullable=True),
    )
    op.create_index("ix_status_attribute_id", "status", ["attribute_id"])
    op.create_table(
        "workspace_member",
        _pull_key(),
        _seq(),
        sa.Column("workspace_member_id", sa.String(), primary_key=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("email_address", sa.String(), nullable=False),
        sa.Column("access_level", sa.String(), nullable=False),
        sa.Column("avatar_url", sa.String(), nullable=True),
        sa.Column("created_at", sa.String(), nullable=True),
    )
    op.create_index("ix_workspace_member_email_address", "workspace_member", ["email_address"])


def downgrade() -> None:
    for table in ("workspace_member", "status", "select_option", "attribute", "object", "workspace"):
        op.drop_table(table)
    op.drop_index("ix_schema_pull_complete", "schema_pull")
    op.drop_table("schema_pull")
