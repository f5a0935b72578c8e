"""retired servers keep their links; link guids; relinked and skipped counts per run; skipped items listed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("server") as batch:
        batch.add_column(sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    for table in ("artist", "album", "track", "link"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("guid", sa.String(length=200), nullable=True))
    where = sa.text("guid IS NOT NULL")
    op.create_index("ix_link_guid", "link", ["guid"], unique=False, sqlite_where=where, postgresql_where=where)
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("relinked", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "skipped_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("sync_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("native_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
    )
    op.create_index("ix_skipped_item_run_id", "skipped_item", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_skipped_item_run_id", table_name="skipped_item")
    op.drop_table("skipped_item")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("skipped")
        batch.drop_column("relinked")
    op.drop_index("ix_link_guid", table_name="link")
    for table in ("artist", "album", "track", "link"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("guid")
    with op.batch_alter_table("server") as batch:
        batch.drop_column("removed_at")
