"""Schema migrations: the migrated schema is the declared one; old databases survive upgrades."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from soulsync_idmap import IdMap, StoreError
from soulsync_idmap.mapping.db import SCHEMA_HEAD, _alembic_config


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    with IdMap.open(db_url) as idmap, idmap.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_old_database_is_upgraded_in_place_and_backed_up(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = _alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO server (name, kind, url, settings, active, created_at)"
                " VALUES (:n, 'snapshot', '/x', '{}', true, :t)"
            ),
            {"n": "legacy", "t": datetime.now(UTC)},
        )
        conn.commit()
    engine.dispose()

    with IdMap.open(f"sqlite:///{path}") as idmap:
        assert [s.name for s in idmap.store.servers()] == ["legacy"]
        with idmap.store.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == SCHEMA_HEAD
    backup = tmp_path / "old.db.bak-0001"
    assert backup.exists()
    check = create_engine(f"sqlite:///{backup}")
    with check.connect() as conn:
        assert conn.execute(text("SELECT name FROM server")).scalar() == "legacy"
    check.dispose()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with IdMap.open(f"sqlite:///{path}") as idmap, idmap.store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this soulsync-idmap knows"):
        IdMap.open(f"sqlite:///{path}")
    assert path.exists()


def test_a_fresh_database_makes_no_backup(tmp_path: Path) -> None:
    with IdMap.open(f"sqlite:///{tmp_path / 'fresh.db'}"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir() if "bak" in p.name) == []


@pytest.mark.empty_database
def test_upgrade_from_the_first_revision_keeps_data(db_url: str) -> None:
    """The same on the backend under test (SQLite, or PostgreSQL in the second pass)."""
    engine = create_engine(db_url)
    config = _alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO server (name, kind, url, settings, active, created_at)"
                " VALUES (:n, 'snapshot', '/x', '{}', true, :t)"
            ),
            {"n": "legacy", "t": datetime.now(UTC)},
        )
        conn.execute(
            text(
                "INSERT INTO track (uuid, title, match_key, created_at, updated_at)"
                " VALUES ('00000000-0000-7000-8000-000000000001', 'Airbag', 'airbag', :t, :t)"
            ),
            {"t": datetime.now(UTC)},
        )
        conn.commit()
    engine.dispose()
    with IdMap.open(db_url) as idmap, idmap.store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == SCHEMA_HEAD
        assert conn.execute(text("SELECT title, alt_key FROM track")).one() == ("Airbag", None)
        assert [s.name for s in idmap.store.servers()] == ["legacy"]


def test_schema_head_names_the_newest_migration() -> None:
    # Store.open skips Alembic when the database records SCHEMA_HEAD: it must be the scripts' head.
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == SCHEMA_HEAD
