"""Live syncs: Plex's and Jellyfin's own websockets and their webhooks, debounced into one sync."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.demo.fake_jellyfin import NotifyingJellyfin
from soulsync_idmap.demo.fake_plex import NotifyingPlex
from soulsync_idmap.errors import ConfigError
from soulsync_idmap.service.triggers import Debouncer, parse_duration
from tests.conftest import Invoke
from tests.service.conftest import Running, cli_sync, running_service, wait_for
from tests.support.gen_library import generate

PLEX_TOKEN = "plex-t0ken-abcdef"
JELLYFIN_TOKEN = "c0ffee00c0ffee00c0ffee00c0ffee00"
NOW = "2030-01-01T00:00:00Z"  # newer than any watermark: an incremental sync sees the new items
NEW = [
    {"kind": "artist", "id": "new-ar", "name": "Brand New Band", "added_at": NOW, "updated_at": NOW},
    {"kind": "album", "id": "new-al", "name": "Debut", "artist_id": "new-ar", "added_at": NOW, "updated_at": NOW},
    {"kind": "track", "id": "new-t", "name": "Opener", "artist_id": "new-ar", "album_id": "new-al",
     "track_number": 1, "duration_ms": 201000, "added_at": NOW, "updated_at": NOW},
]  # fmt: skip


@pytest.fixture
def library(tmp_path: Path) -> Path:
    path = tmp_path / "library.jsonl"
    generate(path, tracks=120, albums=12, artists=5, seed=11)
    return path


def add_album(library: Path) -> None:
    with library.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in NEW)


def jobs(serve: Running) -> list[Any]:
    return [j for j in serve.service.runner.jobs() if j.reason != "api"]


@pytest.fixture
def plex(library: Path) -> Iterator[NotifyingPlex]:
    with NotifyingPlex(library, token=PLEX_TOKEN) as fake:
        assert isinstance(fake, NotifyingPlex)
        yield fake


@pytest.fixture
def jellyfin(library: Path) -> Iterator[NotifyingJellyfin]:
    with NotifyingJellyfin(library, token=JELLYFIN_TOKEN) as fake:
        assert isinstance(fake, NotifyingJellyfin)
        yield fake


def live(db_url: str, config_path: Path) -> Any:
    return running_service(db_url, config_path, live=True, settings={"debounce": 0.5, "debounce_max": 10})


def resolvable(serve: Running, server: str, native_id: str) -> bool:
    return serve.get(f"/api/v1/lookup/{server}/{native_id}").status_code == 200


def test_a_plex_scan_burst_over_the_websocket_becomes_one_sync(
    idmap: Invoke, db_url: str, config_path: Path, plex: NotifyingPlex, library: Path
) -> None:
    assert idmap("servers", "add", "plex", "px", "--url", plex.url, "--token", PLEX_TOKEN).exit_code == 0
    cli_sync(idmap, "px")
    with live(db_url, config_path) as serve:
        assert plex.notifications.wait_for_clients(1, timeout=20)
        add_album(library)
        plex.reload()
        entries = [plex.timeline(r["kind"], r["id"], state) for r in NEW for state in (0, 1, 5)]
        # a scan: every item goes through its states, over and over, hundreds of messages
        for _ in range(170):
            assert plex.announce(entries[:3]) == 1
        plex.announce(entries)
        album = str(plex.rating_key("album", "new-al"))
        wait_for(lambda: resolvable(serve, "px", album), what="the new album to resolve")
        time.sleep(1.5)  # a second sync would have been queued by now
        assert [(j.servers, j.reason, j.status) for j in jobs(serve)] == [(["px"], "websocket", "ok")]
        assert serve.service.debouncer.pokes >= 171
        track = str(plex.rating_key("track", "new-t"))
        assert resolvable(serve, "px", track)


def test_plex_notifications_of_other_sections_or_states_are_ignored(
    idmap: Invoke, db_url: str, config_path: Path, plex: NotifyingPlex
) -> None:
    assert idmap("servers", "add", "plex", "px", "--url", plex.url, "--token", PLEX_TOKEN).exit_code == 0
    cli_sync(idmap, "px")
    with live(db_url, config_path) as serve:
        assert plex.notifications.wait_for_clients(1, timeout=20)
        other = dict(plex.timeline("album", "x", 5), sectionID="99")
        plex.announce([other, plex.timeline("album", "x", 2), plex.timeline("album", "x", 0)])
        plex.notifications.broadcast(json.dumps({"NotificationContainer": {"type": "activity", "size": 1}}))
        time.sleep(1.5)
        assert jobs(serve) == [] and serve.service.debouncer.pokes == 0


def test_jellyfin_library_changed_over_the_websocket_becomes_one_sync(
    idmap: Invoke, db_url: str, config_path: Path, jellyfin: NotifyingJellyfin, library: Path
) -> None:
    add = idmap("servers", "add", "jellyfin", "jf", "--url", jellyfin.url, "--token", JELLYFIN_TOKEN)
    assert add.exit_code == 0, add.output
    cli_sync(idmap, "jf")
    with live(db_url, config_path) as serve:
        assert jellyfin.socket_hub.wait_for_clients(1, timeout=20)
        add_album(library)
        jellyfin.reload()
        ids = [jellyfin.native_id(r["kind"], r["id"]) for r in NEW]
        for _ in range(100):
            assert jellyfin.library_changed(added=ids, updated=ids[:1]) == 1
        wait_for(lambda: resolvable(serve, "jf", ids[2]), what="the new track to resolve")
        time.sleep(1.5)
        assert [(j.servers, j.reason, j.status) for j in jobs(serve)] == [(["jf"], "websocket", "ok")]
        assert resolvable(serve, "jf", ids[1])


def test_a_watch_reconnects_when_the_socket_drops(
    idmap: Invoke, db_url: str, config_path: Path, jellyfin: NotifyingJellyfin
) -> None:
    assert idmap("servers", "add", "jellyfin", "jf", "--url", jellyfin.url, "--token", JELLYFIN_TOKEN).exit_code == 0
    with running_service(db_url, config_path, live=True) as serve:
        serve.service.watches.watches["jf"].retry = 0.2
        assert jellyfin.socket_hub.wait_for_clients(1, timeout=20)
        jellyfin.socket_hub.close_all()
        wait_for(lambda: jellyfin.socket_hub.connections >= 2, timeout=20, what="a reconnection")


def test_plex_webhook_queues_one_sync(
    idmap: Invoke, db_url: str, config_path: Path, plex: NotifyingPlex, library: Path
) -> None:
    assert idmap("servers", "add", "plex", "px", "--url", plex.url, "--token", PLEX_TOKEN).exit_code == 0
    cli_sync(idmap, "px")
    with running_service(db_url, config_path, settings={"debounce": 0.5}) as serve:
        add_album(library)
        plex.reload()
        payload = {"event": "library.new", "user": True, "owner": True,
                   "Server": {"title": "fake-plex", "uuid": plex.machine_identifier},
                   "Metadata": {"librarySectionType": "artist", "type": "album", "title": "Debut"}}  # fmt: skip
        for _ in range(20):
            answer = serve.anonymous.post(
                "/api/v1/hooks/plex", params={"key": serve.key}, files={"payload": (None, json.dumps(payload))}
            )
            assert answer.status_code == 202 and answer.json() == {"triggered": ["px"]}
        play = json.dumps(dict(payload, event="media.play"))
        ignored = serve.anonymous.post("/api/v1/hooks/plex", params={"key": serve.key}, files={"payload": (None, play)})
        assert ignored.status_code == 202 and ignored.json()["triggered"] == []
        album = str(plex.rating_key("album", "new-al"))
        wait_for(lambda: resolvable(serve, "px", album), what="the new album to resolve")
        time.sleep(1.0)
        assert [(j.servers, j.reason) for j in jobs(serve)] == [(["px"], "plex webhook")]


def test_jellyfin_webhook_queues_one_sync(
    idmap: Invoke, db_url: str, config_path: Path, jellyfin: NotifyingJellyfin, library: Path
) -> None:
    assert idmap("servers", "add", "jellyfin", "jf", "--url", jellyfin.url, "--token", JELLYFIN_TOKEN).exit_code == 0
    cli_sync(idmap, "jf")
    with running_service(db_url, config_path, settings={"debounce": 0.5}) as serve:
        add_album(library)
        jellyfin.reload()
        track = jellyfin.native_id("track", "new-t")
        body = {"NotificationType": "ItemAdded", "ServerId": jellyfin.server_id, "ServerName": "fake",
                "ItemId": track, "ItemType": "Audio", "Name": "Opener"}  # fmt: skip
        for _ in range(10):
            answer = serve.anonymous.post("/api/v1/hooks/jellyfin", params={"key": serve.key}, json=body)
            assert answer.status_code == 202 and answer.json() == {"triggered": ["jf"]}
        wait_for(lambda: resolvable(serve, "jf", track), what="the new track to resolve")
        time.sleep(1.0)
        assert [(j.servers, j.reason) for j in jobs(serve)] == [(["jf"], "jellyfin webhook")]


def test_webhooks_need_the_key_in_the_query(serve: Running) -> None:
    for params in ({}, {"key": "wrong"}):
        answer = serve.anonymous.post("/api/v1/hooks/jellyfin", params=params, json={})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    bad = serve.anonymous.post("/api/v1/hooks/plex", params={"key": serve.key}, files={"x": (None, "1")})
    assert bad.status_code == 400
    bad_json = serve.anonymous.post("/api/v1/hooks/plex", params={"key": serve.key}, files={"payload": (None, "{")})
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "bad_json"


def test_debouncer_fires_once_per_burst_and_at_most_max_delay_after_the_first() -> None:
    fired: list[tuple[str, float]] = []
    start = time.monotonic()
    debouncer = Debouncer(lambda s, _r: fired.append((s, time.monotonic() - start)), quiet=0.3, max_delay=1.0).start()
    try:
        for _ in range(500):
            debouncer.poke("a", "test")
        wait_for(lambda: fired, timeout=5, what="a sync")
        time.sleep(0.5)
        assert [s for s, _t in fired] == ["a"]
        fired.clear()
        start = time.monotonic()
        while time.monotonic() - start < 1.6:  # never quiet: still fires after max_delay
            debouncer.poke("b", "test")
            time.sleep(0.05)
        assert fired and fired[0][0] == "b" and 0.9 <= fired[0][1] <= 1.5
    finally:
        debouncer.stop()


def test_durations() -> None:
    assert [parse_duration(v, "x") for v in (90, "90s", "15m", "6h", "1d", "2.5m")] == [90, 90, 900, 21600, 86400, 150]
    for bad in ("soon", "-5m", 0, True, None):
        with pytest.raises(ConfigError):
            parse_duration(bad, "serve.sync_every.x")


def test_schedule_syncs_a_server_whose_period_has_passed(
    idmap: Invoke, db_url: str, config_path: Path, library: Path
) -> None:
    assert idmap("servers", "add", "snapshot", "snap", "--url", str(library)).exit_code == 0
    with running_service(db_url, config_path, live=True, settings={"sync_every": {"snap": "1s"}}) as serve:
        serve.service.scheduler.tick = 0.1
        wait_for(lambda: [j for j in jobs(serve) if j.status == "ok"], timeout=30, what="a scheduled sync")
        assert {j.reason for j in jobs(serve)} == {"schedule"}
        assert serve.get("/api/v1/lookup/snap/t1").status_code == 200
