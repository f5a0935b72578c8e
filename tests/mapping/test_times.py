"""Times are stored and read back as UTC, whatever the database server's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from soulsync_idmap.mapping.store import Store
from tests.conftest import BACKEND


def test_a_watermark_reads_back_as_the_same_instant_on_a_server_in_another_time_zone(db_url: str) -> None:
    if BACKEND != "postgresql":
        pytest.skip("SQLite has no server time zone")
    name = make_url(db_url).database
    store = Store.open(db_url)
    with store.begin() as conn:
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone = 'America/New_York'"))
    store.close()
    store = Store.open(db_url)  # new sessions start in New York time
    try:
        server = store.add_server("home", "snapshot", "/music/home.jsonl", {})
        assert server.id is not None
        when = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
        store.update_server(server.id, watermark=when)
        stored = store.server("home").watermark
        assert stored is not None and stored.tzinfo is not None
        assert stored == when  # the same instant (shown in the session's zone)
    finally:
        store.close()
