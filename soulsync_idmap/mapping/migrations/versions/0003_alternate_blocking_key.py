"""alternate blocking key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_album_alt_key"), ["alt_key"], unique=False)

    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_artist_alt_key"), ["alt_key"], unique=False)

    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_track_alt_key"), ["alt_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_track_alt_key"))
        batch_op.drop_column("alt_key")

    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artist_alt_key"))
        batch_op.drop_column("alt_key")

    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_album_alt_key"))
        batch_op.drop_column("alt_key")
