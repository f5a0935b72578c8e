"""the change feed: one row per change a host app must know, its id the cursor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("old_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("native_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("old_native_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_change_uuid", "change", ["uuid"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_change_uuid", table_name="change")
    op.drop_table("change")
