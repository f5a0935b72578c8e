"""The fake Plex server gives every item of a large library its own ratingKey, as a real one does."""

from __future__ import annotations

import json
from pathlib import Path

from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.plex import PlexServer


def test_tracks_of_a_300k_library_never_share_a_rating_key(tmp_path: Path) -> None:
    # Ids of the benchmark's 300,000-track library that once hashed to one ratingKey.
    pairs = [("t18787", "t23858"), ("t27937", "t30150"), ("t19338", "t118584")]
    library = tmp_path / "lib.jsonl"
    items: list[dict[str, object]] = [
        {"kind": "artist", "id": "ar1", "name": "Artist"},
        {"kind": "album", "id": "al1", "name": "Album", "artist_id": "ar1"},
    ]
    items += [{"kind": "track", "id": t, "name": f"Song {t}", "artist_id": "ar1", "album_id": "al1"}
              for pair in pairs for t in pair]  # fmt: skip
    library.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    with FakePlex(library, token="t") as fake:
        adapter = PlexServer(ServerConfig("p", "plex", fake.url, token="t"))
        tracks = list(adapter.iter_tracks())
    assert len(tracks) == 6
    assert len({t.native_id for t in tracks}) == 6
    assert {t.title for t in tracks} == {f"Song {t}" for pair in pairs for t in pair}
