"""Matching: pure functions that decide whether two records are the same thing.

No database, nothing of ours imported: records in, ``MatchScore`` out.
"""

from __future__ import annotations

from .keys import album_keys, artist_keys, map_path, track_keys
from .normalize import (
    fix_mojibake,
    fold,
    normalize_artist,
    normalize_text,
    split_folded_artist,
    split_title,
    title_suffixes,
)
from .records import VERSION_CONFLICT, AlbumRecord, ArtistRecord, MatchScore, Thresholds, TrackRecord, Verdict
from .score import pick_best, score_albums, score_artists, score_tracks, text_similarity

__all__ = [
    "VERSION_CONFLICT",
    "AlbumRecord",
    "ArtistRecord",
    "MatchScore",
    "Thresholds",
    "TrackRecord",
    "Verdict",
    "album_keys",
    "artist_keys",
    "fix_mojibake",
    "fold",
    "map_path",
    "normalize_artist",
    "normalize_text",
    "pick_best",
    "score_albums",
    "score_artists",
    "score_tracks",
    "split_folded_artist",
    "split_title",
    "text_similarity",
    "title_suffixes",
    "track_keys",
]
