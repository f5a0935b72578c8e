"""Opening the mapping database: URL defaults, SQLite pragmas, migrations on open.

SQLite runs in WAL mode (readers never block the sync's writer) with a busy timeout,
so host-app processes can resolve while a sync writes. The schema upgrades itself
through Alembic when a database is opened; an existing SQLite file is copied aside
before any migration touches it, so an upgrade can never destroy an older database.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ..errors import ConfigError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SCHEMA_HEAD",
    "database_url",
    "default_db_url",
    "describe_url",
    "open_engine",
    "reader",
    "sqlite_path",
    "upgrade_schema",
]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision (a test checks it against the scripts). A database
# already there is opened without loading Alembic and its scripts: a tenth of a second
# on every command, and a host app's every resolve from the command line.
SCHEMA_HEAD = "0007"


def _data_dir() -> Path:
    return Path(platformdirs.user_data_dir("soulsync-idmap", appauthor=False))


def default_db_url() -> str:
    """``IDMAP_DB`` if set (a URL or a file path), else a SQLite file in the user's data directory."""
    env = os.environ.get("IDMAP_DB")
    if env:
        return database_url(env)
    return f"sqlite:///{_data_dir() / 'idmap.db'}"


def database_url(value: str) -> str:
    """A database URL from what a user typed: a URL as it is, a plain file path as a SQLite URL."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def describe_url(url: str) -> str:
    """The database in words: an absolute file path, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path.resolve())
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (or a plain file path), or None (memory database or another backend)."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MB: index pages of a 1M-track library
    # Checkpoint every ~256 MB of WAL, not every 4 MB: a sync batch is larger than that, and
    # a large sync rewrites the same index pages many times between two checkpoints.
    cursor.execute("PRAGMA wal_autocheckpoint=65536")
    cursor.close()


def _database_folder(path: Path) -> None:
    """The folder of a SQLite file must exist; only the default data folder is created."""
    folder = path.resolve().parent
    if folder.is_dir():
        return
    if folder != _data_dir().resolve():
        hint = " (sqlite:/// takes a relative path, sqlite://// an absolute one)" if not path.is_absolute() else ""
        raise StoreError(f"cannot open database {path.resolve()}: folder {folder} does not exist{hint}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the database folder {folder}: {exc.strerror}") from None


# A pooled connection that sat unused this long is checked before use (the server may have
# closed it: a restart, an idle timeout). Checking every checkout (pool_pre_ping) costs a
# round trip per call, a third of a single resolve's time.
IDLE_PING = 10.0


def _idle_since(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle = record.info.get("idle_since")
    if idle is None or time.monotonic() - idle < IDLE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # any failure: the pool discards the connection and opens another
        raise DisconnectionError(str(exc)) from exc


def reader(engine: Engine) -> Engine:
    """The engine for read-only point queries: autocommit on PostgreSQL.

    Outside a transaction a SELECT is one round trip; in one, psycopg sends BEGIN first and
    the pool a ROLLBACK when the connection comes back: three round trips for one lookup.
    SQLite gains nothing (and would run a PRAGMA on every checkin), so it keeps its engine.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` (or a plain file path); bad URLs and unreachable databases are StoreErrors."""
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r} (try sqlite:///path/to/idmap.db)") from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is None:
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            _database_folder(path)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif backend == "postgresql":
        kwargs.update(connect_args={"connect_timeout": 10})
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database URL {parsed.render_as_string()!r}: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif backend == "postgresql":
        event.listen(engine, "checkin", _idle_since)
        event.listen(engine, "checkout", _ping_if_idle)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot open database {parsed.render_as_string()}: {reason}") from None
    return engine


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database; None when there is none (or no table yet)."""
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one_or_none()
    except SQLAlchemyError:
        return None


def upgrade_schema(engine: Engine, url: str) -> None:
    """Bring the schema to the newest revision, backing a SQLite file up first."""
    if _stored_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                return
            if current is not None and current not in {
                rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()
            }:
                raise StoreError(
                    f"the database is at schema revision {current}, newer than this soulsync-idmap "
                    "knows; upgrade soulsync-idmap"
                )
            path = sqlite_path(url)
            has_tables = bool(engine.dialect.get_table_names(connection))
            if path is not None and path.exists() and (current is not None or has_tables):
                backup = path.with_name(f"{path.name}.bak-{current or 'unversioned'}")
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                shutil.copy2(path, backup)
                log.warning("upgrading database schema; previous file kept at %s", backup)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate the database schema: {exc}") from None
