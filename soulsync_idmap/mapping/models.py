"""The mapping database, declared once.

Entities (``artist``, ``album``, ``track``) are keyed by a UUID that never changes;
``link`` ties a server's native id to a UUID; ``redirect`` keeps a merged-away UUID
resolving to its survivor. Times are timezone-aware UTC (SQLModel refuses naive datetimes).

Entities carry two blocking keys (``match_key``, ``alt_key``: the matcher's first two
keys, e.g. a title with and without its " - Album" suffix) and denormalised parent names
(``artist_name``, ``album_title``) so that matching can build its records from one row,
without joins, at a million rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

__all__ = [
    "Album",
    "Artist",
    "Change",
    "Decision",
    "ExternalId",
    "Link",
    "Redirect",
    "ReviewItem",
    "Server",
    "SkippedItem",
    "SyncRun",
    "Track",
]


class Server(SQLModel, table=True):
    __tablename__ = "server"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=20)
    url: str
    instance_id: str | None = Field(default=None, max_length=200)
    # JSON: library, path_map, verify_tls, page_size, timeout. Never secrets.
    settings: str = "{}"
    active: bool = False
    watermark: datetime | None = None
    last_full_sync: datetime | None = None
    # JSON {kind: digest of the ids the last listing returned, in its order}: an equal
    # listing next time proves nothing left or came back, without comparing every link.
    listing_digest: str | None = None
    created_at: datetime
    # Set by 'servers remove': the server is retired, not deleted. Its links stay (tombstoned)
    # as the evidence that lets the next server's items keep their UUIDs.
    removed_at: datetime | None = None


class Artist(SQLModel, table=True):
    __tablename__ = "artist"

    uuid: str = Field(primary_key=True, max_length=36)
    name: str
    sort_name: str | None = None
    match_key: str = Field(index=True)
    alt_key: str | None = Field(default=None, index=True)
    mbid: str | None = Field(default=None, index=True, max_length=64)
    guid: str | None = Field(default=None, max_length=200)
    origin_server_id: int | None = None
    created_at: datetime
    updated_at: datetime


class Album(SQLModel, table=True):
    __tablename__ = "album"

    uuid: str = Field(primary_key=True, max_length=36)
    title: str
    match_key: str = Field(index=True)
    alt_key: str | None = Field(default=None, index=True)
    artist_uuid: str | None = Field(default=None, index=True, max_length=36)
    artist_name: str | None = None
    year: int | None = None
    mbid: str | None = Field(default=None, index=True, max_length=64)
    guid: str | None = Field(default=None, max_length=200)
    origin_server_id: int | None = None
    created_at: datetime
    updated_at: datetime


def _present(name: str, column: str) -> Index:
    """An index of the rows that have ``column``: half the tracks carry no MusicBrainz id, most no ISRC.

    Smaller, and quicker to build after a first sync; lookups say ``IS NOT NULL`` (an IN
    list never matches NULL) so that both databases' planners take it.
    """
    where = text(f"{column} IS NOT NULL")
    return Index(name, column, sqlite_where=where, postgresql_where=where)


class Track(SQLModel, table=True):
    __tablename__ = "track"
    __table_args__ = (_present("ix_track_mbid", "mbid"), _present("ix_track_isrc", "isrc"))

    uuid: str = Field(primary_key=True, max_length=36)
    title: str
    match_key: str = Field(index=True)
    alt_key: str | None = Field(default=None, index=True)
    album_uuid: str | None = Field(default=None, index=True, max_length=36)
    artist_uuid: str | None = Field(default=None, index=True, max_length=36)
    album_title: str | None = None
    artist_name: str | None = None
    track_number: int | None = None
    disc_number: int | None = None
    duration_ms: int | None = None
    year: int | None = None
    mbid: str | None = Field(default=None, max_length=64)
    guid: str | None = Field(default=None, max_length=200)
    isrc: str | None = Field(default=None, max_length=32)
    path: str | None = None
    origin_server_id: int | None = None
    created_at: datetime
    updated_at: datetime


class Link(SQLModel, table=True):
    """One native id on one server, pointing at one UUID.

    ``gone_at`` is a tombstone: the item left the server; its UUID lives on and comes
    back if the item reappears. ``path_tail`` (the last three path components, folded)
    is indexed for the same-file signal, ``guid`` for the same metadata item.
    """

    __tablename__ = "link"
    __table_args__ = (
        UniqueConstraint("server_id", "kind", "native_id", name="uq_link_native"),
        # Covering for resolve_many: the uuid probe finds server, state and native id in the index.
        Index("ix_link_uuid_server", "uuid", "server_id", "gone_at", "native_id"),
        _present("ix_link_path_tail", "path_tail"),  # tracks only
        _present("ix_link_guid", "guid"),  # Plex items only
        # Tombstones are few: "does this server have gone items?" must not scan its links.
        Index(
            "ix_link_gone", "server_id", "kind",
            sqlite_where=text("gone_at IS NOT NULL"), postgresql_where=text("gone_at IS NOT NULL"),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    server_id: int = Field(foreign_key="server.id", ondelete="CASCADE")
    kind: str = Field(max_length=10)
    native_id: str = Field(max_length=200)
    uuid: str = Field(max_length=36)
    fingerprint: str = Field(max_length=32)
    name: str | None = None
    parent_native_id: str | None = Field(default=None, max_length=200)
    path: str | None = None
    path_tail: str | None = None
    # The server's own metadata id where it outlives the native id (plex://...): found again
    # after a re-key, and on another Plex server.
    guid: str | None = Field(default=None, max_length=200)
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None = None


class Redirect(SQLModel, table=True):
    """A merged-away UUID and its survivor; chains are kept one hop long."""

    __tablename__ = "redirect"

    old_uuid: str = Field(primary_key=True, max_length=36)
    new_uuid: str = Field(index=True, max_length=36)
    kind: str = Field(max_length=10)
    decision_id: int | None = None
    created_at: datetime


class ReviewItem(SQLModel, table=True):
    """A proposed merge of two entities of one kind; ``uuid_a`` is the older one."""

    __tablename__ = "review_item"
    __table_args__ = (UniqueConstraint("kind", "uuid_a", "uuid_b", name="uq_review_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    uuid_a: str = Field(max_length=36, index=True)
    uuid_b: str = Field(max_length=36, index=True)
    score: float
    reasons: str = "{}"
    status: str = Field(default="pending", max_length=12, index=True)
    created_at: datetime
    decided_at: datetime | None = None
    decision_id: int | None = None


class Decision(SQLModel, table=True):
    """The audit log: every merge, split, accept, reject and undo, with what undo needs."""

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=12)
    kind: str = Field(max_length=10)
    uuid_a: str | None = Field(default=None, max_length=36)
    uuid_b: str | None = Field(default=None, max_length=36)
    source: str = Field(default="cli", max_length=20)
    payload: str = "{}"
    created_at: datetime
    undone_at: datetime | None = None


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    server_id: int = Field(foreign_key="server.id", ondelete="CASCADE", index=True)
    mode: str = Field(max_length=12)
    status: str = Field(default="running", max_length=12)
    started_at: datetime
    finished_at: datetime | None = None
    seen: int = 0
    new: int = 0
    linked: int = 0
    merged: int = 0
    queued: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0
    revived: int = 0
    relinked: int = 0
    skipped: int = 0
    error: str | None = None


class SkippedItem(SQLModel, table=True):
    """An item a run could not store, and why (``idmap sync --report``)."""

    __tablename__ = "skipped_item"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="sync_run.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=10)
    native_id: str | None = Field(default=None, max_length=200)
    name: str | None = None
    reason: str


class ExternalId(SQLModel, table=True):
    """An id of the entity outside any media server (Spotify, Deezer...), reused once found."""

    __tablename__ = "external_id"
    __table_args__ = (
        UniqueConstraint("uuid", "provider", name="uq_external_uuid_provider"),
        Index("ix_external_provider_value", "provider", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(max_length=36)
    kind: str = Field(max_length=10)
    provider: str = Field(max_length=20)
    value: str = Field(max_length=200)
    source: str = Field(default="", max_length=40)
    created_at: datetime


class Change(SQLModel, table=True):
    """One entry of the change feed (``mapping/changes.py``): what a host app must know.

    ``id`` is the feed's cursor, in commit order. No foreign key to ``server``: the
    history outlives a removed server. AUTOINCREMENT on SQLite: a cursor is never reused.
    """

    __tablename__ = "change"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=12)
    kind: str = Field(max_length=10)
    uuid: str = Field(max_length=36, index=True)
    old_uuid: str | None = Field(default=None, max_length=36)
    server_id: int | None = None
    native_id: str | None = Field(default=None, max_length=200)
    old_native_id: str | None = Field(default=None, max_length=200)
    decision_id: int | None = None
    at: datetime
