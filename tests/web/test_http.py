"""The pages over plain HTTP (no browser), on both backends: sessions, redirects, bulk accept, search."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from soulsync_idmap.mapping.store import Store, table
from soulsync_idmap.service.web.session import COOKIE, SessionSigner
from tests.conftest import Invoke
from tests.service.conftest import Running, add_snapshot, cli_sync, running_service, write_library

SONGS = [("Alpha", 200), ("Beta", 210), ("Gamma", 220), ("Delta", 230)]


def library(side: str) -> list[dict[str, Any]]:
    """Two views of one album: the second's files 12 s longer (review), its "Delta" a live take (a version)."""
    rows: list[dict[str, Any]] = [
        {"kind": "artist", "id": f"{side}-ar", "name": "The Testers"},
        {"kind": "album", "id": f"{side}-al", "name": "Trials", "artist_id": f"{side}-ar", "year": 2001},
    ]
    for number, (title, seconds) in enumerate(SONGS, start=1):
        live = side == "b" and title == "Delta"
        rows.append({"kind": "track", "id": f"{side}-{number}", "name": f"{title} (Live)" if live else title,
                     "artist_id": f"{side}-ar", "album_id": f"{side}-al", "track_number": number,
                     "duration_ms": (seconds + (12 if side == "b" else 0)) * 1000, "year": 2001})  # fmt: skip
    return rows


@pytest.fixture
def site(db_url: str, config_path: Path, idmap: Invoke, tmp_path: Path) -> Iterator[Running]:
    for side in ("a", "b"):
        add_snapshot(idmap, side, write_library(tmp_path / f"{side}.jsonl", library(side)))
    cli_sync(idmap, "a", "b")
    with running_service(db_url, config_path) as running:
        yield running


@contextmanager
def login(site: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=10) as client:
        answer = client.post("/login", data={"key": site.key, "next": "/review"})
        assert answer.status_code == 303 and answer.headers["location"] == "/review"
        flags = answer.headers["set-cookie"].lower()
        assert "httponly" in flags and "samesite=strict" in flags
        yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def statuses(db_url: str) -> dict[str, str]:
    store = Store.open(db_url)
    review, track = table("review_item"), table("track")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(track.c.title, review.c.status).join(track, track.c.uuid == review.c.uuid_a)
            ).all()  # fmt: skip
        return {title: status for title, status in rows}
    finally:
        store.close()


def test_bulk_accept_asks_first_and_leaves_the_different_versions(site: Running, db_url: str) -> None:
    assert statuses(db_url) == {t: "pending" for t in ("Alpha", "Beta", "Gamma", "Delta")}
    with login(site) as client:
        token = csrf(client.get("/review").text)
        asked = client.post("/review/bulk-accept", data={"csrf": token, "min_score": "0.5", "order": "score"})
        assert asked.status_code == 200 and "Accept 3 pending proposal(s)" in asked.text
        assert "1 flagged as different versions" in asked.text
        assert statuses(db_url)["Alpha"] == "pending"  # nothing before the confirmation
        done = client.post("/review/bulk-accept", data={"csrf": token, "min_score": "0.5", "confirmed": "1"})
        assert done.status_code == 303
        assert "accepted 3 proposal" in client.get(done.headers["location"]).text
    assert statuses(db_url) == {"Alpha": "accepted", "Beta": "accepted", "Gamma": "accepted",
                                "Delta": "pending"}  # fmt: skip


def test_a_forged_or_expired_cookie_and_a_foreign_next_are_refused(site: Running) -> None:
    signer = SessionSigner(site.key)
    cookie, _session = signer.new()
    expired, _old = signer.new(now=time.time() - 13 * 3600)
    other, _x = SessionSigner("another-key-0123456789").new()
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    for value in (expired, other, forged, "garbage"):
        answer = httpx.get(f"{site.url}/review", cookies={COOKIE: value})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), value
    ok = httpx.get(f"{site.url}/review", cookies={COOKIE: cookie})
    assert ok.status_code == 200
    assert ok.headers["content-security-policy"].startswith("default-src 'self'")
    assert ok.headers["x-frame-options"] == "DENY" and ok.headers["cache-control"] == "no-store"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = httpx.post(f"{site.url}/login", data={"key": site.key, "next": target})
        assert answer.headers["location"] == "/", target
    assert httpx.get(f"{site.url}/events").status_code == 401
    assert site.key not in ok.text


def test_search_by_name_native_id_and_uuid(site: Running, idmap: Invoke) -> None:
    with login(site) as client:
        found = client.get("/entities", params={"q": "gam"})
        assert found.status_code == 200 and "Gamma" in found.text and "Alpha" not in found.text
        by_native = client.get("/entities", params={"q": "a-3"})
        assert by_native.status_code == 303
        uuid = by_native.headers["location"].rsplit("/", 1)[1]
        assert idmap("lookup", "a", "a-3").output.strip() == uuid
        assert client.get("/entities", params={"q": uuid.upper()}).headers["location"] == f"/entities/{uuid}"
        page = client.get(f"/entities/{uuid}")
        assert page.status_code == 200 and "Gamma" in page.text
        unknown = client.get("/entities/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404
        assert client.get("/entities/not-a-uuid").status_code == 404
        nothing = client.get("/entities", params={"q": "zzz"})
        assert "Nothing matches" in nothing.text


def test_sigterm_ends_open_event_streams_at_once(db_url: str, config_path: Path, idmap: Invoke) -> None:
    """A dashboard left open must not hold ``idmap serve`` until the grace period cuts its stream.

    The stream ends as a complete response (its last chunk sent); cut by uvicorn after the
    grace period, it would end mid-body, which httpx reports as a protocol error.
    """
    from tests.service.test_processes import Process

    key = idmap("serve", "--init-key").output.strip()
    process = Process(db_url, config_path)
    try:
        with httpx.Client(base_url=process.url, timeout=60) as client:
            assert client.post("/login", data={"key": key}).status_code == 303
            with client.stream("GET", "/events") as events:
                lines = events.iter_lines()
                # the first event is read before the signal: a SIGTERM that comes first ends the
                # stream before it, which is right but leaves nothing to check the stream by
                assert [next(lines) for _ in range(4)] == ["retry: 1000", "", "event: jobs",
                                                          'data: {"jobs":[],"busy":false}']  # fmt: skip
                process.proc.send_signal(signal.SIGTERM)
                list(lines)  # raises httpx.RemoteProtocolError when the stream is cut
        assert process.proc.wait(30) == 0
    finally:
        process.stop()
