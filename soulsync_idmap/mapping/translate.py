"""UUID <-> native id translation, following redirects.

Every function issues a fixed number of statements per chunk of input, never one per
item. The batch functions take a Connection; the point lookups (one UUID, one native id)
take a Connection or a PointReader, which keeps a connection open for them. Redirect
chains are kept one hop long by the merge code, so following a redirect is one lookup.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.pool import StaticPool

from .bulk import chunked
from .store import table

__all__ = ["CHUNK", "PointReader", "follow_redirects", "lookup", "lookup_kind", "resolve_many", "resolve_one"]

# Well under SQLite's 32,766 bound variables and PostgreSQL's 65,535 parameters.
CHUNK = 10_000


def follow_redirects(conn: Connection, uuids: Sequence[str]) -> dict[str, str]:
    """Map each UUID to its survivor (itself when it was never merged away)."""
    redirect = table("redirect")
    result = {u: u for u in uuids}
    for chunk in chunked(list(result), CHUNK):
        rows = conn.execute(select(redirect.c.old_uuid, redirect.c.new_uuid).where(redirect.c.old_uuid.in_(chunk)))
        for old, new in rows:
            result[old] = new
    return result


# The relation of the UUIDs asked for, bound as ONE parameter: binding 10,000 parameters
# costs more than the lookups themselves. SQLite reads a JSON array through json_each,
# joined first (CROSS JOIN fixes the order) so that every value is one probe of the uuid
# index, in sorted order: neighbouring probes share index pages (100,000 random probes
# took 430 ms, sorted 130 ms). PostgreSQL gets one comma-separated string (psycopg dumps
# a 100,000-element text array element by element, at a regex each). Its links test
# ``= ANY``: a few UUIDs are probed in the index, a large batch is one scan of the table
# against a hash of the array, which beats 100,000 index probes (each a visit to the heap
# as well). Its redirects join the unnested array: ``= ANY`` there cost 30-45 ms of
# planning (a selectivity estimate per element) for a table that is mostly empty.
_REDIRECTS = {
    "sqlite": "SELECT r.old_uuid, r.new_uuid FROM json_each({ids}) AS ids CROSS JOIN redirect r"
              " ON r.old_uuid = ids.value",
    "postgresql": "SELECT r.old_uuid, r.new_uuid FROM unnest(string_to_array({ids}, ',')) AS ids(u)"
                  " JOIN redirect r ON r.old_uuid = ids.u",
}  # fmt: skip
# The live links come back as ONE JSON object {uuid: native id} and their count, built by
# the database: decoding one JSON text costs a fraction of a row tuple per link (SQLite:
# 77 against 133 ms for 100,000). A count above the object's size means a UUID with
# several live links on the server; then _LINK_ROWS reads them with their ids.
_WHERE = {
    "sqlite": "FROM json_each({ids}) AS ids CROSS JOIN link l ON l.uuid = ids.value"
              " WHERE l.server_id = {server} AND l.gone_at IS NULL",
    "postgresql": "FROM link l WHERE l.uuid = ANY(string_to_array({ids}, ','))"
                  " AND l.server_id = {server} AND l.gone_at IS NULL",
}  # fmt: skip
_LINKS = {
    "sqlite": f"SELECT json_group_object(l.uuid, l.native_id), count(*) {_WHERE['sqlite']}",
    "postgresql": f"SELECT json_object_agg(l.uuid, l.native_id)::text, count(*) {_WHERE['postgresql']}",
}
_LINK_ROWS = {dialect: f"SELECT l.uuid, l.native_id, l.id {where}" for dialect, where in _WHERE.items()}
CHUNK_ONE_PARAMETER = 200_000


def _bound(dialect: str, values: Sequence[str]) -> str:
    """The values as one parameter: a JSON array for SQLite, comma-separated for PostgreSQL."""
    if dialect != "sqlite":
        return ",".join(values)
    body = '","'.join(values)
    # Joined as they are when no value needs escaping (UUIDs never do): json.dumps of
    # 100,000 strings costs 16 ms, the join 1 ms. Each separator holds two quotes.
    if body.isprintable() and "\\" not in body and body.count('"') == 2 * (len(values) - 1):
        return f'["{body}"]'
    return json.dumps(list(values))


def resolve_many(conn: Connection, server_id: int, uuids: Sequence[str]) -> dict[str, str | None]:
    """Native id on ``server_id`` of each UUID (after redirects); None where unlinked or gone.

    Two statements per chunk: one for redirects, one for links. The answer is keyed in the
    order the UUIDs first appear. Where one UUID has several live links on the server, the
    oldest link answers (a third statement reads the links' ids).
    """
    dialect = conn.dialect.name
    if dialect not in _LINKS:
        return _resolve_many_portable(conn, server_id, uuids)
    result: dict[str, str | None] = dict.fromkeys(uuids)  # every answer None until found, in first-seen order
    for chunk in chunked(list(result), CHUNK_ONE_PARAMETER):
        probe = sorted(chunk) if dialect == "sqlite" else chunk  # PostgreSQL hashes them
        survivor: dict[str, str] = dict(_fetch_all(conn, _REDIRECTS[dialect], {"ids": _bound(dialect, probe)}))
        if survivor:
            targets = list({survivor.get(u, u): None for u in probe})
            native = _natives(conn, dialect, server_id, targets)
            result.update((u, native.get(survivor.get(u, u))) for u in chunk)
        else:
            result.update(_natives(conn, dialect, server_id, probe))  # its keys are some of chunk's
    return result


def _natives(conn: Connection, dialect: str, server_id: int, uuids: Sequence[str]) -> dict[str, str]:
    """{uuid: native id} of the live links of ``uuids`` on ``server_id``; the oldest link where several."""
    values = {"ids": _bound(dialect, uuids), "server": server_id}
    found, count = _fetch_one(conn, _LINKS[dialect], values)
    native: dict[str, str] = json.loads(found) if found else {}
    if len(native) == count:
        return native
    native = {}
    oldest: dict[str, int] = {}
    for uuid, native_id, link_id in _fetch_all(conn, _LINK_ROWS[dialect], values):
        if uuid not in oldest or link_id < oldest[uuid]:
            native[uuid], oldest[uuid] = native_id, link_id
    return native


def _resolve_many_portable(conn: Connection, server_id: int, uuids: Sequence[str]) -> dict[str, str | None]:
    """``resolve_many`` on any other database: IN lists of ``CHUNK`` bound parameters."""
    link = table("link")
    unique = sorted(set(uuids))
    survivor = follow_redirects(conn, unique)
    result: dict[str, str | None] = {}
    for chunk in chunked(sorted(set(survivor.values())), CHUNK):
        query = select(link.c.uuid, link.c.native_id).where(
            link.c.uuid.in_(chunk), link.c.server_id == server_id, link.c.gone_at.is_(None)
        )
        native: dict[str, str] = {}
        for uuid, native_id in conn.execute(query.order_by(link.c.id.desc())):
            native[uuid] = native_id
        result.update((u, native.get(survivor[u])) for u in unique if survivor[u] in native)
    return {u: result.get(u) for u in unique}


_RESOLVE_ONE = (
    "SELECT l.native_id FROM link l"
    " WHERE l.uuid = COALESCE((SELECT r.new_uuid FROM redirect r WHERE r.old_uuid = {uuid}), {uuid})"
    " AND l.server_id = {server} AND l.gone_at IS NULL ORDER BY l.id LIMIT 1"
)


def _run(conn: Connection, template: str, values: dict[str, Any]) -> Any:
    """A fixed statement in the driver's own parameter style (``exec_driver_sql``).

    Compiling a statement and binding its parameters cost SQLAlchemy more than SQLite
    spends answering a point query, and these are the calls a host app makes once per
    item (or per 100,000). ``template`` names its parameters ``{name}``.
    """
    paramstyle = conn.dialect.paramstyle
    if paramstyle == "qmark":
        order = list(values)
        sql = template.format(**{name: f"?{i + 1}" for i, name in enumerate(order)})
        params: Any = tuple(values[name] for name in order)
    elif paramstyle in ("format", "pyformat"):
        sql, params = template.format(**{name: f"%({name})s" for name in values}), values
    else:
        sql, params = template.format(**{name: f":{name}" for name in values}), values
    return conn.exec_driver_sql(sql, params)


_STYLES = {"pysqlite": ":{}", "psycopg": "%({})s"}  # the drivers whose connections PointReader keeps


class _Placeholders(dict[str, str]):
    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style

    def __missing__(self, name: str) -> str:
        return self.style.format(name)


class PointReader:
    """Point queries (one UUID, one native id) on a DBAPI connection kept open.

    The call a host app makes once per item: around SQLite's answer, SQLAlchemy's pool
    checkout, Connection, result and checkin cost five times the query itself when the CPU
    caches are cold, as they are between two requests of a service (measured 450 against
    90 µs a call). The connection comes from the engine's pool once, detached from it (it
    counts against no pool limit), and serves one thread at a time: a thread that finds it
    busy goes through the engine, as does any driver but sqlite3 and psycopg. A driver error
    discards it and the call is answered through the engine (whose pool checks a connection
    that sat idle), so a restarted PostgreSQL costs one retry, not an error.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # a reader(): autocommit on PostgreSQL
        style = _STYLES.get(engine.dialect.driver)
        self._placeholders = None if style is None or isinstance(engine.pool, StaticPool) else _Placeholders(style)
        self._lock = threading.Lock()
        self._connection: Any = None
        self._sql: dict[str, str] = {}

    def first(self, template: str, values: dict[str, Any]) -> Any:
        """The first row of ``template`` (parameters named ``{name}``), or None."""
        if self._placeholders is not None and self._lock.acquire(blocking=False):
            try:
                return self._first_kept(template, values)
            except self.engine.dialect.loaded_dbapi.Error:
                self._discard()
            finally:
                self._lock.release()
        with self.engine.connect() as conn:
            return _run(conn, template, values).first()

    def _first_kept(self, template: str, values: dict[str, Any]) -> Any:
        sql = self._sql.get(template)
        if sql is None:
            assert self._placeholders is not None
            sql = self._sql[template] = template.format_map(self._placeholders)
        if self._connection is None:
            fairy = self.engine.raw_connection()
            self._connection = fairy.driver_connection
            fairy.detach()
            if self.engine.dialect.driver == "psycopg":
                self._connection.autocommit = True  # as reader(): a SELECT is one round trip
        cursor = self._connection.execute(sql, values)
        rows = cursor.fetchall()  # to the end: an unfinished SQLite statement would hold its snapshot
        cursor.close()
        return rows[0] if rows else None

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._discard()


def _fetch_one(conn: Connection | PointReader, template: str, values: dict[str, Any]) -> Any:
    if isinstance(conn, PointReader):
        return conn.first(template, values)
    return _run(conn, template, values).first()


def _fetch_all(conn: Connection, template: str, values: dict[str, Any]) -> list[Any]:
    return list(_run(conn, template, values).all())


def resolve_one(conn: Connection | PointReader, server_id: int, uuid: str) -> str | None:
    """``resolve_many`` for one UUID in one statement (one round trip to a database server)."""
    row = _fetch_one(conn, _RESOLVE_ONE, {"uuid": uuid, "server": server_id})
    return None if row is None else str(row[0])


_LOOKUP = (
    "SELECT COALESCE(r.new_uuid, l.uuid), l.kind FROM link l LEFT JOIN redirect r ON r.old_uuid = l.uuid"
    " WHERE l.server_id = {server} AND l.kind IN ({kinds}) AND l.native_id = {native}"
    " ORDER BY l.gone_at IS NOT NULL, l.id LIMIT 1"
)


def lookup_kind(
    conn: Connection | PointReader, server_id: int, native_id: str, kind: str | None = None
) -> tuple[str, str] | None:
    """(UUID after redirects, kind) of a native id, tombstoned links too; one statement."""
    if kind is not None and kind not in ("artist", "album", "track"):
        return None
    # The kinds spelled out: the unique (server, kind, native id) index then answers with
    # three probes instead of scanning every link of the server.
    kinds = f"'{kind}'" if kind else "'artist', 'album', 'track'"
    row = _fetch_one(conn, _LOOKUP.replace("{kinds}", kinds), {"server": server_id, "native": native_id})
    return None if row is None else (str(row[0]), str(row[1]))


def lookup(conn: Connection | PointReader, server_id: int, native_id: str, kind: str | None = None) -> str | None:
    """The UUID linked to a native id (tombstoned links too: the UUID outlives the item)."""
    found = lookup_kind(conn, server_id, native_id, kind)
    return None if found is None else found[0]
