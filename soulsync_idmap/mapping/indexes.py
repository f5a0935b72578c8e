"""Secondary indexes set aside while a first sync fills an empty database.

Inserting a million rows into tables that carry fifteen secondary indexes updates every
index row by row, each at a random page (match keys, MusicBrainz ids, parent UUIDs).
Building an index afterwards sorts once. A first sync into a database without any link
needs none of these indexes while it runs: there is nothing to match against, and its
lookups (native id -> UUID for parents, already-linked ids) use the unique link index,
which always stays. So the first sync drops them, loads, and builds them again.

An interrupted first sync leaves them missing: the next sync builds whatever is missing
(one catalogue query when nothing is) as it takes the sync lock. Readers never build
them: a command that only reads must not wait for it, nor need the right to.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, Index
from sqlmodel import SQLModel

from . import models  # noqa: F401  (registers the tables)

__all__ = ["DEFERRABLE", "drop_deferrable", "missing_indexes", "restore_indexes"]

log = logging.getLogger(__name__)

# The unique link index (lookups, no duplicate native ids) and the small partial index of
# tombstones stay; so do the indexes of the tables a sync does not bulk-fill. The link
# UUID index stays too: its keys are the new UUIDv7s, which grow in insert order, so
# keeping it costs appends at the end of the B-tree, not a rebuild afterwards.
_KEEP = {"ix_link_gone", "ix_link_uuid_server"}
DEFERRABLE: tuple[Index, ...] = tuple(
    index
    for name in ("artist", "album", "track", "link")
    for index in sorted(SQLModel.metadata.tables[name].indexes, key=lambda i: str(i.name))
    if not index.unique and index.name not in _KEEP
)


def _index_names(conn: Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    return {row[0] for row in conn.exec_driver_sql(query)}


def missing_indexes(conn: Connection) -> list[Index]:
    present = _index_names(conn)
    return [index for index in DEFERRABLE if index.name not in present]


def drop_deferrable(conn: Connection) -> list[str]:
    """Drop the deferrable indexes that exist; the caller commits."""
    present = _index_names(conn)
    dropped = []
    for index in DEFERRABLE:
        if index.name in present:
            index.drop(conn)
            dropped.append(str(index.name))
    return dropped


def restore_indexes(engine: Engine) -> list[str]:
    """Build the deferrable indexes that are missing, each in its own transaction.

    On SQLite the build sorts through temporary files, not memory (the connection's
    ``temp_store=MEMORY`` would hold a sort of a million keys in RAM), with a second
    sorter thread.
    """
    with engine.connect() as conn:
        missing = missing_indexes(conn)
    if not missing:
        return []
    built = []
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            temp_store = conn.exec_driver_sql("PRAGMA temp_store").scalar()
            conn.exec_driver_sql("PRAGMA temp_store=FILE")
            conn.exec_driver_sql("PRAGMA threads=2")
        try:
            for index in missing:
                index.create(conn, checkfirst=True)
                conn.commit()
                built.append(str(index.name))
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA temp_store={int(temp_store or 0)}")
                conn.exec_driver_sql("PRAGMA threads=0")
    log.info("built %d indexes: %s", len(built), ", ".join(built))
    return built
