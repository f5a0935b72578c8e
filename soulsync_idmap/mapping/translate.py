"""UUID <-> native id translation, following redirects.

Every function takes a Connection and issues a fixed number of statements per chunk
of input, never one per item. Redirect chains are kept one hop long by the merge code,
so following a redirect is one lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from .store import table

__all__ = ["CHUNK", "follow_redirects", "lookup", "resolve_many"]

# Well under SQLite's 32,766 bound variables and PostgreSQL's 65,535 parameters.
CHUNK = 10_000


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def follow_redirects(conn: Connection, uuids: Sequence[str]) -> dict[str, str]:
    """Map each UUID to its survivor (itself when it was never merged away)."""
    redirect = table("redirect")
    result = {u: u for u in uuids}
    for chunk in _chunks(list(result)):
        rows = conn.execute(select(redirect.c.old_uuid, redirect.c.new_uuid).where(redirect.c.old_uuid.in_(chunk)))
        for old, new in rows:
            result[old] = new
    return result


def resolve_many(conn: Connection, server_id: int, uuids: Sequence[str]) -> dict[str, str | None]:
    """Native id on ``server_id`` of each UUID (after redirects); None where unlinked or gone.

    Two statements per chunk of 10,000 UUIDs: one for redirects, one for links.
    """
    link = table("link")
    redirect = table("redirect")
    unique = list(dict.fromkeys(uuids))
    result: dict[str, str | None] = {}
    for chunk in _chunks(unique):
        survivor = {u: u for u in chunk}
        for old, new in conn.execute(
            select(redirect.c.old_uuid, redirect.c.new_uuid).where(redirect.c.old_uuid.in_(chunk))
        ):
            survivor[old] = new
        targets = list(set(survivor.values()))
        native: dict[str, str] = {}
        rows = conn.execute(
            select(link.c.uuid, link.c.native_id)
            .where(link.c.server_id == server_id, link.c.gone_at.is_(None), link.c.uuid.in_(targets))
            .order_by(link.c.id)
        )
        for uuid, native_id in rows:
            native.setdefault(uuid, native_id)
        for original, final in survivor.items():
            result[original] = native.get(final)
    return result


def lookup(conn: Connection, server_id: int, native_id: str, kind: str | None = None) -> str | None:
    """The UUID linked to a native id (tombstoned links too: the UUID outlives the item)."""
    link = table("link")
    query = select(link.c.uuid, link.c.gone_at).where(link.c.server_id == server_id, link.c.native_id == native_id)
    if kind is not None:
        query = query.where(link.c.kind == kind)
    rows = list(conn.execute(query.order_by(link.c.gone_at.is_not(None), link.c.id)))
    if not rows:
        return None
    uuid = str(rows[0][0])
    return follow_redirects(conn, [uuid])[uuid]
