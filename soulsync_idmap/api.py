"""The Python API for host apps: ``IdMap``."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from .errors import ConfigError, NotFound
from .mapping import translate
from .mapping.changes import Change, read_changes
from .mapping.db import reader
from .mapping.models import Server
from .mapping.store import Store, normalize_uuid, normalize_uuids

__all__ = ["IdMap"]

_ACTIVE = "SELECT id FROM server WHERE active LIMIT 1"


class IdMap:
    """Translate between permanent UUIDs and each server's native ids.

    >>> with IdMap.open("sqlite:///music.idmap.db") as idmap:   # doctest: +SKIP
    ...     idmap.resolve(uuid)            # native id on the active server, or None
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reader = reader(store.engine)
        self._points = translate.PointReader(self._reader)
        self._servers: dict[str, Server] = {}

    @classmethod
    def open(cls, url: str | None = None) -> IdMap:
        """Open (and if needed create or upgrade) the mapping database at ``url``."""
        return cls(Store.open(url))

    def close(self) -> None:
        self._points.close()
        self.store.close()

    def __enter__(self) -> IdMap:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- servers ---------------------------------------------------------------------
    def _server_id(self, name: str | None) -> int:
        if name is None:  # read on every call: another process may activate another server
            active = self._points.first(_ACTIVE, {})
            if active is None:
                raise ConfigError("no active server; add one with 'idmap servers add'")
            return int(active[0])
        cached = self._servers.get(name)
        if cached is None:
            cached = self._servers[name] = self.store.server(name)
        assert cached.id is not None
        return cached.id

    @property
    def active_server(self) -> str | None:
        active = self.store.active_server()
        return active.name if active else None

    def activate(self, name: str) -> None:
        self.store.activate(name)

    # -- translation -----------------------------------------------------------------
    def resolve(self, uuid: str, server: str | None = None) -> str | None:
        """The native id of ``uuid`` on ``server`` (default: the active one), or None."""
        key = normalize_uuid(uuid)
        return translate.resolve_one(self._points, self._server_id(server), key)

    def resolve_many(self, uuids: Iterable[str], server: str | None = None) -> dict[str, str | None]:
        """``{uuid: native id or None}``; two queries per 200,000 UUIDs (per 10,000 on other databases)."""
        keys = normalize_uuids(list(uuids))
        server_id = self._server_id(server)
        with self._reader.connect() as conn:
            return translate.resolve_many(conn, server_id, keys)

    def lookup(self, server: str, native_id: str, kind: str | None = None) -> str | None:
        """The UUID of a native id on ``server`` (following redirects), or None."""
        return translate.lookup(self._points, self._server_id(server), native_id, kind)

    def translate(self, server: str, native_id: str, to: str | None = None) -> str | None:
        """The native id on ``to`` (default: the active server) of a native id on ``server``."""
        uuid = self.lookup(server, native_id)
        if uuid is None:
            return None
        return self.resolve(uuid, to)

    def changes(self, since: int = 0, limit: int = 1000) -> list[Change]:
        """The change feed after cursor ``since``, oldest first; pass the last one's ``cursor`` next time.

        Types: linked, gone, revived, relinked, merged, split, rejected, undone
        (``soulsync_idmap.mapping.changes`` says what each carries).
        """
        with self.store.engine.connect() as conn:
            return read_changes(conn, since, limit)

    def require(self, server: str, native_id: str) -> str:
        """Like ``lookup`` but raising ``NotFound``."""
        uuid = self.lookup(server, native_id)
        if uuid is None:
            raise NotFound(f"{server}: no item with native id {native_id!r}")
        return uuid
