"""Blocking keys: cheap strings two records of the same thing are likely to share."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from .normalize import (
    VARIOUS_ARTISTS,
    normalize_artist,
    split_folded_artist,
    split_title,
    strip_track_number,
    title_variants,
)
from .records import AlbumRecord, ArtistRecord, TrackRecord

__all__ = ["album_keys", "artist_keys", "map_path", "track_keys"]


MAX_KEY = 200  # indexed columns: a 100,000-character title must not break a B-tree


def _unique(keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k[:MAX_KEY].strip() for k in keys if k and k[:MAX_KEY].strip()))


def artist_keys(record: ArtistRecord) -> tuple[str, ...]:
    keys = [normalize_artist(record.name)]
    if record.sort_name:
        keys.append(normalize_artist(record.sort_name))
    return _unique(keys) or ("?",)


def album_keys(record: AlbumRecord) -> tuple[str, ...]:
    return _unique([split_title(record.title).base]) or ("?",)


def track_keys(record: TrackRecord) -> tuple[str, ...]:
    """At most three keys, the base title first.

    With no artist and an "Artist - Title" title, the part after the dash comes first; a
    title that carries a suffix (" - Album", "(Album)", "(Live at ...)") adds the title
    without it; a leading "01 - " track number is dropped.
    """
    title = strip_track_number(record.title, record.track_number)
    artist = normalize_artist(record.artist) if record.artist else ""
    keys: list[str] = []
    if not artist or artist in VARIOUS_ARTISTS:
        folded = split_folded_artist(title)
        if folded is not None:
            keys.append(split_title(folded[1]).base)
    keys.extend(split_title(variant).base for variant in title_variants(title))
    return _unique(keys)[:3] or ("?",)


def map_path(path: str, path_map: Sequence[tuple[str, str]]) -> str:
    """Apply the first matching prefix mapping; separators become '/'."""
    unified = path.replace("\\", "/")
    for source, target in path_map:
        src = source.replace("\\", "/").rstrip("/")
        if unified == src or unified.startswith(src + "/"):
            unified = target.replace("\\", "/").rstrip("/") + unified[len(src) :]
            break
    return posixpath.normpath(unified) if unified else unified
