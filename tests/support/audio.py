"""Tiny real audio files with real tags, for tests against a real Subsonic server.

Each file is a short run of silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz),
tagged with ID3v2.4 by mutagen: title, artist, album artist, album, track, disc, year
and MusicBrainz recording id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK, UFID

__all__ = ["Tagged", "write_mp3"]

_FRAME_HEADER = bytes([0xFF, 0xFB, 0x90, 0x64])  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding
_FRAME = _FRAME_HEADER + bytes(417 - len(_FRAME_HEADER))  # 144 * 128000 / 44100 = 417 bytes a frame


@dataclass(frozen=True)
class Tagged:
    title: str
    artist: str
    album: str
    album_artist: str | None = None
    track: int | None = None
    disc: int | None = None
    year: int | None = None
    mbid: str | None = None
    seconds: int = 2


def write_mp3(path: str | Path, tags: Tagged) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(1, round(tags.seconds * 44100 / 1152))
    path.write_bytes(_FRAME * frames)
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    if tags.album_artist:
        id3.add(TPE2(encoding=3, text=tags.album_artist))
    if tags.track:
        id3.add(TRCK(encoding=3, text=str(tags.track)))
    if tags.disc:
        id3.add(TPOS(encoding=3, text=str(tags.disc)))
    if tags.year:
        id3.add(TDRC(encoding=3, text=str(tags.year)))
    if tags.mbid:
        id3.add(UFID(owner="http://musicbrainz.org", data=tags.mbid.encode()))
    id3.save(path)
    return path
