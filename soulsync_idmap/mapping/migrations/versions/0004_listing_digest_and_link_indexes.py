"""listing digest, covering uuid index, partial index on tombstones

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("server", schema=None) as batch_op:
        batch_op.add_column(sa.Column("listing_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.drop_index("ix_link_uuid")
        batch_op.create_index("ix_link_uuid_server", ["uuid", "server_id", "gone_at", "native_id"], unique=False)
        batch_op.create_index(
            "ix_link_gone",
            ["server_id", "kind"],
            unique=False,
            sqlite_where=sa.text("gone_at IS NOT NULL"),
            postgresql_where=sa.text("gone_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.drop_index("ix_link_gone")
        batch_op.drop_index("ix_link_uuid_server")
        batch_op.create_index("ix_link_uuid", ["uuid"], unique=False)
    with op.batch_alter_table("server", schema=None) as batch_op:
        batch_op.drop_column("listing_digest")
