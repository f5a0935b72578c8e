"""The bundled demo library: one small collection as two servers see it.

The Plex view and the Jellyfin view hold the same files (other ids, another mount point)
with the differences real servers show: a remaster suffix on one side, a sort-name artist,
durations a second apart, one file re-encoded elsewhere 12 s longer (a case for review),
MusicBrainz ids read by one server only, a live recording that
only one server has indexed yet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack
from ..servers.snapshot import write_snapshot

__all__ = ["write_demo_libraries"]

# (artist, album, year, [(title, seconds)])
COLLECTION = [
    (
        "Radiohead",
        "OK Computer",
        1997,
        [
            ("Airbag", 284),
            ("Paranoid Android", 383),
            ("Subterranean Homesick Alien", 267),
            ("Exit Music (For a Film)", 264),
            ("Let Down", 299),
            ("Karma Police", 261),
        ],
    ),
    ("Portishead", "Dummy", 1994, [("Mysterons", 306), ("Sour Times", 254), ("Strangers", 238), ("Glory Box", 306)]),
    (
        "The Beatles",
        "Abbey Road",
        1969,
        [("Come Together", 259), ("Something", 182), ("Octopus's Garden", 171), ("Here Comes the Sun", 185)],
    ),
    ("Björk", "Homogenic", 1997, [("Hunter", 255), ("Jóga", 305), ("Bachelorette", 316)]),
    (
        "Daft Punk",
        "Discovery",
        2001,
        [("One More Time", 320), ("Digital Love", 301), ("Harder, Better, Faster, Stronger", 224)],
    ),
]
MBIDS = {"Radiohead": "a74b1b7f-71a5-4011-9441-d0b5e4122711", "Portishead": "8f6bd1e4-fbe1-4f50-aa9b-94c450ec0f11"}


def _drift(title: str, number: int) -> int:
    """Decoders disagree by a few hundred ms; one file was re-encoded with a longer fade-out."""
    if title == "Digital Love":
        return 12_000
    return 400 if number % 2 else -300


def _hex(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


def _views() -> tuple[list[ServerItem], list[ServerItem]]:
    plex: list[ServerItem] = []
    jelly: list[ServerItem] = []
    key = 1000
    for a_index, (artist, album, year, tracks) in enumerate(COLLECTION):
        key += 1
        plex.append(ServerArtist(str(key), artist, mbid=MBIDS.get(artist)))
        p_artist = str(key)
        j_name = "Beatles, The" if artist == "The Beatles" else artist
        jelly.append(ServerArtist(_hex("artist", artist), j_name, sort_name=artist, mbid=None))
        key += 1
        plex.append(ServerAlbum(str(key), album, artist_id=p_artist, year=year))
        p_album = str(key)
        j_album_title = f"{album} (Remastered)" if a_index == 2 else album
        jelly.append(ServerAlbum(_hex("album", album), j_album_title, artist_id=_hex("artist", artist), year=year))
        for number, (title, seconds) in enumerate(tracks, start=1):
            key += 1
            path = f"{artist}/{album}/{number:02d} {title}.flac"
            plex.append(ServerTrack(
                str(key), title, album_id=p_album, artist_id=p_artist, track_number=number, disc_number=1,
                duration_ms=seconds * 1000, year=year, path=f"/music/{path}",
            ))  # fmt: skip
            j_title = f"{title} - 2009 Remaster" if a_index == 2 else title
            j_path = f"/data/media/{path}" if title != "Digital Love" else f"/data/re-encoded/{number:02d} {title}.flac"
            jelly.append(ServerTrack(
                _hex("track", album, title), j_title, album_id=_hex("album", album),
                artist_id=_hex("artist", artist), track_number=number, disc_number=1,
                duration_ms=seconds * 1000 + _drift(title, number), year=year, path=j_path,
            ))  # fmt: skip
    # Only the Jellyfin server has indexed the live bonus track yet.
    jelly.append(ServerTrack(
        _hex("track", "live"), "Karma Police (Live)", album_id=_hex("album", "OK Computer"),
        artist_id=_hex("artist", "Radiohead"), track_number=13, disc_number=1, duration_ms=270_000, year=1997,
        path="/data/media/Radiohead/OK Computer/13 Karma Police (Live).flac",
    ))  # fmt: skip
    return plex, jelly


def write_demo_libraries(folder: str | Path) -> tuple[Path, Path]:
    """Write ``plex.jsonl`` and ``jellyfin.jsonl`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plex, jelly = _views()
    plex_path, jelly_path = folder / "plex.jsonl", folder / "jellyfin.jsonl"
    write_snapshot(plex_path, plex)
    write_snapshot(jelly_path, jelly)
    return plex_path, jelly_path
