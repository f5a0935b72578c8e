"""The one bad-item policy every adapter applies to what its server lists.

An item that cannot be stored as it is never stops a listing. It is either stored with an
honest repair, or reported as a ``Skipped`` on the adapter's ``skipped`` list and left out:

=====================================  =====================================================
what the server sent                   what the adapter does
=====================================  =====================================================
no id (missing, empty, blank)          skipped: "no id"
an id longer than 200 characters       skipped: "id longer than 200 characters"
an id listed twice in one listing      the first kept; the second skipped: "duplicate id"
a track with an empty or blank title   stored, titled with its file name without extension;
                                       skipped "no title and no file name" without a path
an artist or album with no name        skipped: "no name"
NUL characters, lone surrogates        removed (U+FFFD for a lone surrogate), in every string
a name longer than 500 characters      cut to 500 characters (longer cannot be indexed)
a parent id that is empty or too long  stored without that parent
numbers out of range (track/disc no.,  stored without that number
year, duration), MBID over 64 or ISRC
over 32 characters, unreadable dates
=====================================  =====================================================

A skipped id is the server's, still there: the engine reports it and never tombstones it,
and the next sync reads it again.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Any

from .base import EntityKind, ServerAlbum, ServerArtist, ServerItem, ServerTrack, Skipped, clean_text, title_from_path

__all__ = ["NAME_LIMIT", "NATIVE_ID_LIMIT", "Intake", "Listing"]

log = logging.getLogger(__name__)

NATIVE_ID_LIMIT = 200  # the width of link.native_id
NAME_LIMIT = 500  # PostgreSQL cannot index a btree row much over 2,700 bytes (a name's match key)
_LIMITS = {"mbid": 64, "isrc": 32}
_RANGES = {"track_number": (1, 9_999), "disc_number": (1, 999), "year": (1, 9_999), "duration_ms": (1, 2**31 - 1)}
_TEXTS = ("sort_name", "artist_name", "album_title", "path")
_PARENTS = ("artist_id", "album_id")
_LOGGED_PER_REASON = 20


class Listing:
    """The ids one listing has produced so far (a second item with one id is a duplicate)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()


class Intake:
    """Checks and repairs the items of one adapter; reports what it leaves out on ``skipped``.

    ``repaired`` counts the repairs by reason ("NUL removed", "title from file name"...).
    """

    def __init__(self, server: str, skipped: list[Skipped]) -> None:
        self.server = server
        self.skipped = skipped
        self.repaired: Counter[str] = Counter()

    def skip(self, kind: EntityKind, native_id: str | None, reason: str, name: str | None = None) -> None:
        shown = clean_text(name)[:NAME_LIMIT] if name else None
        self.skipped.append(Skipped(kind, clean_text(native_id) if native_id else None, reason, shown))
        log.debug("%s: skipped a %s (%s): %s %r", self.server, kind, reason, native_id, shown)

    def accept(self, item: ServerItem, listing: Listing | None = None) -> ServerItem | None:
        """``item`` as it can be stored, or None when it was skipped (and reported)."""
        name = item.name if isinstance(item, ServerArtist) else item.title
        native = clean_text(item.native_id).strip()
        if not native:
            self.skip(item.kind, None, "no id", name)
            return None
        if len(native) > NATIVE_ID_LIMIT:
            self.skip(item.kind, native[:NATIVE_ID_LIMIT], f"id longer than {NATIVE_ID_LIMIT} characters", name)
            return None
        if listing is not None:
            if native in listing.ids:
                self.skip(item.kind, native, "duplicate id", name)
                return None
            listing.ids.add(native)
        fixed = self._name(item, native, name)
        if fixed is None:
            return None
        # Only what differs is replaced: most items need no repair, and copying a frozen
        # dataclass cost more than reading the line it came from.
        changes: dict[str, Any] = {}
        if native != item.native_id:
            changes["native_id"] = native
        if fixed != name:
            changes["name" if isinstance(item, ServerArtist) else "title"] = fixed
        for field in _TEXTS:
            value = getattr(item, field, None)
            if isinstance(value, str):
                text = self._text(native, value, None if field == "path" else NAME_LIMIT) or None
                if text != value:
                    changes[field] = text
        for field in _PARENTS:
            value = getattr(item, field, None)
            if isinstance(value, str):
                parent = clean_text(value).strip()
                kept = parent if 0 < len(parent) <= NATIVE_ID_LIMIT else None
                if kept != value:
                    changes[field] = kept
        for field, limit in _LIMITS.items():
            value = getattr(item, field, None)
            if isinstance(value, str):
                cleaned = clean_text(value).strip()
                kept = cleaned if 0 < len(cleaned) <= limit else None
                if kept != value:
                    changes[field] = kept
        for field, (low, high) in _RANGES.items():
            value = getattr(item, field, None)
            if value is not None and not (isinstance(value, int) and low <= value <= high):
                self._note(f"{field} out of range", native, value)
                changes[field] = None
        return replace(item, **changes) if changes else item

    def _name(self, item: ServerItem, native: str, name: str) -> str | None:
        cleaned = self._text(native, name)
        if cleaned.strip():
            return cleaned
        if isinstance(item, ServerTrack):
            placeholder = title_from_path(item.path)
            if placeholder is not None:
                self._note("title from file name", native, placeholder)
                return placeholder[:NAME_LIMIT]
            self.skip(item.kind, native, "no title and no file name", None)
            return None
        assert isinstance(item, ServerArtist | ServerAlbum)
        self.skip(item.kind, native, "no name", None)
        return None

    def _text(self, native: str, value: str, limit: int | None = NAME_LIMIT) -> str:
        cleaned = clean_text(value)
        if cleaned != value:
            self._note("NUL or lone surrogate removed", native, cleaned)
        if limit is not None and len(cleaned) > limit:
            self._note(f"cut to {limit} characters", native, cleaned[:40])
            cleaned = cleaned[:limit]
        return cleaned

    def _note(self, reason: str, native: str, value: object) -> None:
        self.repaired[reason] += 1
        if self.repaired[reason] <= _LOGGED_PER_REASON:
            log.warning("%s: item %s stored with a repair (%s): %r", self.server, native, reason, value)
