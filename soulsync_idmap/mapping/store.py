"""The mapping store: an engine, its schema, and the server registry."""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, update
from sqlmodel import Session, SQLModel
from sqlmodel import select as orm_select

from ..errors import ConfigError, NotFound
from .db import default_db_url, open_engine, upgrade_schema
from .models import Link, Server

__all__ = ["Store", "new_uuid", "normalize_uuid", "normalize_uuids", "table", "utcnow"]

SETTINGS_KEYS = ("library", "path_map", "verify_tls", "page_size", "timeout")


def utcnow() -> datetime:
    return datetime.now(UTC)


def table(name: str) -> Table:
    """The Core table behind a model, for bulk statements."""
    return SQLModel.metadata.tables[name]


_rng = random.Random(int.from_bytes(os.urandom(16), "big"))


def new_uuid() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered keys land at the end of the B-tree indexes instead of at random pages,
    which keeps bulk inserts fast as the library grows; to a host app it is just a UUID.
    """
    value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | _rng.getrandbits(12) << 64
    value |= 0b10 << 62 | _rng.getrandbits(62)
    text = f"{value:032x}"  # formatted directly: uuid.UUID(int=...) validates what is valid by construction
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize_uuid(value: str) -> str:
    """The canonical form of a UUID string; a ConfigError for anything else."""
    if isinstance(value, str) and _CANONICAL.fullmatch(value):
        return value  # already canonical: the common case, five times cheaper than parsing
    try:
        return str(uuidlib.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise ConfigError(f"not a UUID: {value!r}") from None


def normalize_uuids(values: Sequence[str]) -> Sequence[str]:
    """``normalize_uuid`` of each value, in order; ``values`` itself when all are canonical.

    A batch of 100,000 is checked in a few passes over the joined text (7 ms, where a regex
    per value takes 37): the separators every 37 characters (so each value is 36 long), hex
    digits and dashes only, and the dashes exactly where ``_CANONICAL`` puts them. Anything
    else goes through ``normalize_uuid`` one by one.
    """
    count = len(values)
    try:
        text = "\n".join(values)
    except TypeError:
        text = ""
    if count and len(text) == 37 * count - 1 and text.isascii():
        raw = text.encode("ascii")
        dashes = "-" * count
        if (
            not raw.translate(None, b"0123456789abcdef-\n")
            and raw.count(b"-") == 4 * count
            and raw.count(b"\n") == count - 1
            and text[8::37] == text[13::37] == text[18::37] == text[23::37] == dashes
            and text[36::37] == "\n" * (count - 1)
        ):
            return values
    return [normalize_uuid(v) for v in values]


class Store:
    """Owns the engine. Open with ``Store.open(url)``; the schema upgrades itself."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        url = url or default_db_url()
        engine = open_engine(url)
        try:
            upgrade_schema(engine, url)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, url)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction on a Core connection (committed on success)."""
        with self.engine.begin() as connection:
            yield connection

    # -- servers ---------------------------------------------------------------------
    def servers(self) -> list[Server]:
        with self.session() as session:
            query = orm_select(Server).where(Server.removed_at == None).order_by(Server.name)  # noqa: E711
            return list(session.exec(query).all())

    def server(self, name: str) -> Server:
        with self.session() as session:
            query = orm_select(Server).where(Server.name == name, Server.removed_at == None)  # noqa: E711
            found = session.exec(query).first()
        if found is None:
            known = ", ".join(s.name for s in self.servers()) or "none yet; add one with 'idmap servers add'"
            raise ConfigError(f"unknown server {name!r} (known: {known})")
        return found

    def server_by_id(self, server_id: int) -> Server:
        with self.session() as session:
            found = session.get(Server, server_id)
        if found is None:
            raise NotFound(f"no server with id {server_id}")
        return found

    def active_server(self) -> Server | None:
        with self.session() as session:
            return session.exec(orm_select(Server).where(Server.active == True)).first()  # noqa: E712

    def add_server(self, name: str, kind: str, url: str, settings: dict[str, Any]) -> Server:
        if not name.strip() or len(name) > 200:
            raise ConfigError("a server name must be 1 to 200 characters")
        with self.session() as session:
            if session.exec(orm_select(Server.id).where(Server.name == name)).first() is not None:
                raise ConfigError(f"a server named {name!r} exists already")
            has_active = session.exec(orm_select(Server.id).where(Server.active == True)).first()  # noqa: E712
            server = Server(
                name=name,
                kind=kind,
                url=url,
                settings=json.dumps(settings, sort_keys=True),
                active=has_active is None,
                created_at=utcnow(),
            )
            session.add(server)
            session.commit()
            session.refresh(server)
            return server

    def activate(self, name: str) -> Server:
        target = self.server(name)
        with self.begin() as conn:
            conn.execute(update(table("server")).values(active=False))
            conn.execute(update(table("server")).where(table("server").c.id == target.id).values(active=True))
        return self.server(name)

    def remove_server(self, name: str) -> int:
        """Retire a server: it is no longer listed, synced or resolved to; returns its live links.

        Its links stay, tombstoned, with what they knew (native ids, names, file paths):
        the evidence by which the items of the next server added (the same files on
        Jellyfin after Plex, say) get the UUIDs they had. Entities and their UUIDs stay
        too. The name is free for a new server at once.
        """
        target = self.server(name)
        links = table("link")
        servers = table("server")
        now = utcnow()
        with self.begin() as conn:
            live = (links.c.server_id == target.id) & links.c.gone_at.is_(None)
            count = conn.execute(select(func.count()).select_from(links).where(live)).scalar_one()
            conn.execute(update(links).where(live).values(gone_at=now))
            conn.execute(
                update(servers).where(servers.c.id == target.id).values(
                    name=f"{target.name[:180]}~removed-{target.id}", active=False, removed_at=now,
                )
            )  # fmt: skip
            if target.active:
                first = conn.execute(
                    select(servers.c.id).where(servers.c.removed_at.is_(None)).order_by(servers.c.name).limit(1)
                ).scalar()
                if first is not None:
                    conn.execute(update(servers).where(servers.c.id == first).values(active=True))
        return int(count)

    def update_server(self, server_id: int, **values: Any) -> None:
        with self.begin() as conn:
            conn.execute(update(table("server")).where(table("server").c.id == server_id).values(**values))


def server_settings(server: Server) -> dict[str, Any]:
    try:
        value = json.loads(server.settings or "{}")
    except json.JSONDecodeError:
        raise ConfigError(f"server {server.name!r} has corrupt settings in the database") from None
    return value if isinstance(value, dict) else {}


_ = Link  # the model registers the table used through table("link")
