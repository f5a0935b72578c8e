"""partial indexes on track mbid / isrc and link path_tail (the rows that have one)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _partial(name: str, table: str, column: str) -> None:
    where = sa.text(f"{column} IS NOT NULL")
    op.create_index(name, table, [column], unique=False, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    for name, table, column in (("ix_track_mbid", "track", "mbid"), ("ix_track_isrc", "track", "isrc")):
        op.drop_index(name, table_name=table)
        _partial(name, table, column)
    op.drop_index("ix_link_path_tail", table_name="link")
    _partial("ix_link_path_tail", "link", "path_tail")


def downgrade() -> None:
    op.drop_index("ix_link_path_tail", table_name="link")
    op.create_index("ix_link_path_tail", "link", ["kind", "path_tail"], unique=False)
    for name, table, column in (("ix_track_mbid", "track", "mbid"), ("ix_track_isrc", "track", "isrc")):
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], unique=False)
