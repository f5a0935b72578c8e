"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "album",
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("match_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("artist_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("artist_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("mbid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("origin_server_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_album_artist_uuid"), ["artist_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_album_match_key"), ["match_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_album_mbid"), ["mbid"], unique=False)

    op.create_table(
        "artist",
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sort_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("match_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mbid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("origin_server_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artist_match_key"), ["match_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_artist_mbid"), ["mbid"], unique=False)

    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("uuid_a", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("uuid_b", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "redirect",
        sa.Column("old_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("new_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("old_uuid"),
    )
    with op.batch_alter_table("redirect", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redirect_new_uuid"), ["new_uuid"], unique=False)

    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("uuid_a", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("uuid_b", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "uuid_a", "uuid_b", name="uq_review_pair"),
    )
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_item_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_item_uuid_a"), ["uuid_a"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_item_uuid_b"), ["uuid_b"], unique=False)

    op.create_table(
        "server",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("instance_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("settings", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("watermark", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_full_sync", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "track",
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("match_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("album_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("artist_uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("album_title", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("artist_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("track_number", sa.Integer(), nullable=True),
        sa.Column("disc_number", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("mbid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("isrc", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("origin_server_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_track_album_uuid"), ["album_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_track_artist_uuid"), ["artist_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_track_isrc"), ["isrc"], unique=False)
        batch_op.create_index(batch_op.f("ix_track_match_key"), ["match_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_track_mbid"), ["mbid"], unique=False)

    op.create_table(
        "link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("native_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("uuid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("parent_native_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("path_tail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("first_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("gone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["server_id"], ["server.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("server_id", "kind", "native_id", name="uq_link_native"),
    )
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.create_index("ix_link_path_tail", ["kind", "path_tail"], unique=False)
        batch_op.create_index("ix_link_uuid", ["uuid"], unique=False)

    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("gone", sa.Integer(), nullable=False),
        sa.Column("revived", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["server_id"], ["server.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_run_server_id"), ["server_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_run_server_id"))

    op.drop_table("sync_run")
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.drop_index("ix_link_uuid")
        batch_op.drop_index("ix_link_path_tail")

    op.drop_table("link")
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_track_mbid"))
        batch_op.drop_index(batch_op.f("ix_track_match_key"))
        batch_op.drop_index(batch_op.f("ix_track_isrc"))
        batch_op.drop_index(batch_op.f("ix_track_artist_uuid"))
        batch_op.drop_index(batch_op.f("ix_track_album_uuid"))

    op.drop_table("track")
    op.drop_table("server")
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_item_uuid_b"))
        batch_op.drop_index(batch_op.f("ix_review_item_uuid_a"))
        batch_op.drop_index(batch_op.f("ix_review_item_status"))

    op.drop_table("review_item")
    with op.batch_alter_table("redirect", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redirect_new_uuid"))

    op.drop_table("redirect")
    op.drop_table("decision")
    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artist_mbid"))
        batch_op.drop_index(batch_op.f("ix_artist_match_key"))

    op.drop_table("artist")
    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_album_mbid"))
        batch_op.drop_index(batch_op.f("ix_album_match_key"))
        batch_op.drop_index(batch_op.f("ix_album_artist_uuid"))

    op.drop_table("album")
