from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings
from sqlalchemy import Engine

from soulsync_idmap.cli import cli
from soulsync_idmap.mapping.store import Store

BACKEND = os.environ.get("IDMAP_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("IDMAP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# Property tests assert what is computed, never how fast: the suite runs in more processes
# than the machine has cores, where a 200 ms per-example deadline would fail on a busy moment.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def pytest_report_header() -> str:
    return f"idmap backend: {BACKEND}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An autocommit connection to the PostgreSQL server, or a skip (a failure under CI)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the server
        engine.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN}: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    """A PostgreSQL database migrated to the newest schema once a session: tests copy it
    (CREATE DATABASE ... TEMPLATE) instead of running every migration again (~2 s a test)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"idmap_template_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    Store.open(make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)).close()
    yield name
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fresh_database(tmp_path: Path, request: pytest.FixtureRequest, file: str) -> Iterator[str]:
    if BACKEND != "postgresql":
        yield f"sqlite:///{tmp_path / file}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"idmap_test_{uuid.uuid4().hex[:12]}"
    # A test that migrates a database itself asks for an empty one (marker "empty_database").
    template = "" if request.node.get_closest_marker("empty_database") else request.getfixturevalue("pg_template")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty mapping database on the backend under test."""
    yield from _fresh_database(tmp_path, request, "idmap.db")


@pytest.fixture
def other_db_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second one, for comparing two ways of filling a database."""
    yield from _fresh_database(tmp_path, request, "other.db")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The mapping store opened on ``db_url`` (SQLite file or a PostgreSQL database)."""
    opened = Store.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config.json"


Invoke = Callable[..., Result]


@pytest.fixture
def idmap(db_url: str, config_path: Path) -> Invoke:
    """Run the CLI against this test's database and config; returns the click Result."""

    def run(*args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--db", db_url, "--config", str(config_path), *args], input=input)

    return run


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def small_library() -> list[dict[str, Any]]:
    return [
        {"kind": "artist", "id": "ar1", "name": "Radiohead", "mbid": "a74b1b7f-71a5-4011-9441-d0b5e4122711"},
        {"kind": "artist", "id": "ar2", "name": "Portishead"},
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "year": 1997},
        {"kind": "album", "id": "al2", "name": "Dummy", "artist_id": "ar2", "year": 1994},
        {"kind": "track", "id": "t1", "name": "Airbag", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 284000, "path": "/music/Radiohead/OK Computer/01 Airbag.flac"},
        {"kind": "track", "id": "t2", "name": "Paranoid Android", "artist_id": "ar1", "album_id": "al1",
         "track_number": 2, "duration_ms": 383000, "path": "/music/Radiohead/OK Computer/02 Paranoid Android.flac"},
        {"kind": "track", "id": "t3", "name": "Mysterons", "artist_id": "ar2", "album_id": "al2",
         "track_number": 1, "duration_ms": 306000, "path": "/music/Portishead/Dummy/01 Mysterons.flac"},
    ]  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, run only the tests that use the mapping database."""
    if BACKEND != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        (keep if "db_url" in getattr(item, "fixturenames", ()) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
