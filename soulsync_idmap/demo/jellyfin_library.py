"""The library behind the fake Jellyfin/Emby server: snapshot items as BaseItemDto.

Native ids are derived from the snapshot ids, so a test can say which native id an item
must be linked under: Jellyfin ids are 32 lowercase hex (md5 of ``kind:id``), Emby ids
numeric strings. DTOs follow the real responses in the shared fixtures: PascalCase,
nulls omitted, 7-digit fractional dates, Field-gated properties only when asked for.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from ..servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack
from ..servers.snapshot import read_snapshot

__all__ = ["GATED_FIELDS", "Entry", "Flavor", "JellyfinLibrary", "LibrarySpec", "jellyfin_date", "make_id"]

Flavor = Literal["jellyfin", "emby"]
TYPES = {"artist": "MusicArtist", "album": "MusicAlbum", "track": "Audio"}
# Present in a list response only when named in Fields (the real servers gate these).
GATED_FIELDS = ("ProviderIds", "Path", "DateCreated", "ParentId", "SortName", "MediaSources", "Genres", "Etag")
DEFAULT_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def make_id(flavor: Flavor, kind: str, key: str) -> str:
    digest = hashlib.md5(f"{kind}:{key}".encode()).hexdigest()
    if flavor == "emby":
        return str(int(digest[:13], 16))  # numeric strings, as Emby's ids are
    return digest


def jellyfin_date(value: datetime) -> str:
    """``2024-03-21T10:50:57.4570251Z``: UTC with 7 fractional digits."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass(frozen=True)
class LibrarySpec:
    """One library of the fake: a snapshot file shown as a CollectionFolder."""

    name: str
    path: str | os.PathLike[str]
    collection_type: str = "music"


@dataclass
class Entry:
    """One served item with its native id and the dates the server keeps."""

    kind: str
    item: ServerItem
    native_id: str
    library_ids: set[str]
    created: datetime
    saved: datetime
    sort_name: str
    artist: Entry | None = None  # album: album artist; track: track artist
    album: Entry | None = None  # track only
    path: str | None = None
    ticks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class JellyfinLibrary:
    """All libraries of one fake server, indexed for the queries the routes answer."""

    def __init__(self, flavor: Flavor, server_id: str, specs: Iterable[LibrarySpec], *, recording_ids: bool = True):
        self.flavor = flavor
        self.server_id = server_id
        self.specs = list(specs)
        self.recording_ids = recording_ids
        self.folders: dict[str, LibrarySpec] = {}
        self.entries: dict[str, dict[str, Entry]] = {}
        self.by_id: dict[str, Entry] = {}
        self.load()

    def native_id(self, kind: str, snapshot_id: str) -> str:
        return make_id(self.flavor, kind, snapshot_id)

    def load(self) -> None:
        """(Re)read every snapshot file; ids stay the same for the same snapshot ids."""
        self.folders = {make_id(self.flavor, "library", s.name): s for s in self.specs}
        self.entries = {"artist": {}, "album": {}, "track": {}}
        for folder_id, spec in self.folders.items():
            self._load_one(folder_id, spec)
        self.by_id = {}
        for kind_entries in self.entries.values():
            for native, entry in kind_entries.items():
                if native in self.by_id:
                    raise ValueError(f"native id collision: {native}")
                self.by_id[native] = entry

    def _entry(self, item: ServerItem, folder_id: str) -> Entry:
        stamps = [d for d in (item.added_at, item.updated_at) if d is not None]
        created = item.added_at or item.updated_at or DEFAULT_DATE
        name = item.name if isinstance(item, ServerArtist) else item.title
        sort = (item.sort_name if isinstance(item, ServerArtist) else None) or name.lower()
        native = self.native_id(item.kind, item.native_id)
        return Entry(item.kind, item, native, {folder_id}, created, max(stamps, default=created), sort)

    def _load_one(self, folder_id: str, spec: LibrarySpec) -> None:
        artists = self.entries["artist"]
        local: dict[str, dict[str, Entry]] = {"artist": {}, "album": {}}
        order = {"artist": 0, "album": 1, "track": 2}  # parents first, whatever the file order
        for item in sorted(read_snapshot(spec.path), key=lambda i: order[i.kind]):
            entry = self._entry(item, folder_id)
            if isinstance(item, ServerArtist):
                # Artists are shared by name across libraries on the real servers.
                entry = artists.setdefault(entry.native_id, entry)
                entry.library_ids.add(folder_id)
                local["artist"][item.native_id] = entry
                continue
            entry.artist = local["artist"].get(item.artist_id or "")
            if entry.artist is not None:
                entry.artist.library_ids.add(folder_id)
            if isinstance(item, ServerAlbum):
                local["album"][item.native_id] = entry
            elif isinstance(item, ServerTrack):
                self._add_track(entry, item, local["album"])
            self.entries[item.kind][entry.native_id] = entry

    @staticmethod
    def _add_track(entry: Entry, item: ServerTrack, albums: dict[str, Entry]) -> None:
        entry.album = albums.get(item.album_id or "")
        entry.ticks = (item.duration_ms or 0) * 10_000
        entry.path = item.path
        disc, number = item.disc_number or 0, item.track_number or 0
        entry.sort_name = f"{disc:04d} - {number:04d} - {item.title}"
        if entry.album is not None:
            entry.album.ticks += entry.ticks
            if entry.album.path is None and item.path:
                entry.album.path = str(PurePosixPath(item.path).parent)

    # -- queries -----------------------------------------------------------------------
    def select(self, kinds: set[str], parent: str | None, recursive: bool) -> list[Entry]:
        """Items of ``kinds`` under ``parent`` (a library, album or artist id; None: everything)."""
        if parent is None:
            if not recursive:
                return []
            return [e for kind in ("artist", "album", "track") if kind in kinds for e in self.entries[kind].values()]
        if parent in self.folders:
            if not recursive:  # the library's direct children are folders we do not model
                return []
            return [e for kind in ("album", "track") if kind in kinds
                    for e in self.entries[kind].values() if parent in e.library_ids]  # fmt: skip
        owner = self.by_id.get(parent)
        if owner is None or owner.kind == "track":
            return []
        if owner.kind == "album":
            return [e for e in self.entries["track"].values() if e.album is owner] if "track" in kinds else []
        found = [e for e in self.entries["album"].values() if e.artist is owner] if "album" in kinds else []
        if recursive and "track" in kinds:
            found += [e for e in self.entries["track"].values() if e.album is not None and e.album.artist is owner]
        return found

    def artists(self, parent: str | None, album_artists_only: bool) -> list[Entry]:
        """What /Artists (every artist) or /Artists/AlbumArtists lists under a library."""
        chosen = [e for e in self.entries["artist"].values() if parent is None or parent in e.library_ids]
        if album_artists_only:
            owners = {id(a.artist) for a in self.entries["album"].values() if a.artist is not None}
            chosen = [e for e in chosen if id(e) in owners]
        return chosen

    # -- DTOs --------------------------------------------------------------------------
    def _ref(self, entry: Entry | None) -> list[dict[str, str]]:
        if entry is None:
            return []
        assert isinstance(entry.item, ServerArtist)
        return [{"Name": entry.item.name, "Id": entry.native_id}]

    def _provider_ids(self, entry: Entry) -> dict[str, str]:
        item = entry.item
        ids: dict[str, str] = {}
        artist_mbid = entry.artist.item.mbid if entry.artist is not None else None
        if isinstance(item, ServerArtist):
            ids["MusicBrainzArtist"] = item.mbid or ""
        elif isinstance(item, ServerAlbum):
            ids.update(MusicBrainzAlbum=item.mbid or "", MusicBrainzAlbumArtist=artist_mbid or "")
        elif isinstance(item, ServerTrack):
            album_mbid = entry.album.item.mbid if entry.album is not None else None
            ids.update(MusicBrainzArtist=artist_mbid or "", MusicBrainzAlbum=album_mbid or "")
            if item.mbid:
                # The release-track id is another MusicBrainz entity than the recording.
                ids["MusicBrainzTrack"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"release-track:{item.mbid}"))
                if self.recording_ids:
                    ids["MusicBrainzRecording"] = item.mbid
        return {k: v for k, v in ids.items() if v}

    def dto(self, entry: Entry, fields: set[str], *, images: bool = True, user_data: bool = False) -> dict[str, Any]:
        """The BaseItemDto of ``entry`` with the gated ``fields`` (canonical names)."""
        item = entry.item
        name = item.name if isinstance(item, ServerArtist) else item.title
        dto: dict[str, Any] = {"Name": name, "ServerId": self.server_id, "Id": entry.native_id}
        if "Etag" in fields:
            dto["Etag"] = hashlib.md5(repr(item).encode()).hexdigest()
        if "DateCreated" in fields:
            dto["DateCreated"] = jellyfin_date(entry.created)
        if "SortName" in fields:
            dto["SortName"] = entry.sort_name
        if "MediaSources" in fields and entry.path:
            dto["MediaSources"] = [self._media_source(entry)]
        if "Path" in fields and entry.path:
            dto["Path"] = entry.path
        if "Genres" in fields:
            dto["Genres"] = []
        if entry.ticks:
            dto["RunTimeTicks"] = entry.ticks
        if "ProviderIds" in fields:
            dto["ProviderIds"] = self._provider_ids(entry)
        if "ParentId" in fields and not isinstance(item, ServerArtist):
            dto["ParentId"] = entry.album.native_id if entry.album is not None else next(iter(entry.library_ids))
        dto.update(self._music_fields(entry))
        if user_data:
            dto["UserData"] = {"PlaybackPositionTicks": 0, "PlayCount": 0, "IsFavorite": False, "Played": False}
        if images:
            dto["ImageTags"] = {}
        if self.flavor == "jellyfin":  # Emby's list items carry no LocationType
            dto["LocationType"] = "FileSystem"
        return dto

    def _music_fields(self, entry: Entry) -> dict[str, Any]:
        item = entry.item
        out: dict[str, Any] = {}
        if isinstance(item, ServerAlbum | ServerTrack) and item.year:
            out["ProductionYear"] = item.year
        if isinstance(item, ServerTrack):
            out["IndexNumber"] = item.track_number or 0
            if item.disc_number:
                out["ParentIndexNumber"] = item.disc_number
        if not isinstance(item, ServerArtist):  # artist DTOs carry no IsFolder
            out["IsFolder"] = not isinstance(item, ServerTrack)
        out["Type"] = TYPES[entry.kind]
        if isinstance(item, ServerArtist):
            return out
        album_artist = entry.artist if isinstance(item, ServerAlbum) else (entry.album and entry.album.artist)
        out["Artists"] = [r["Name"] for r in self._ref(entry.artist)]
        out["ArtistItems"] = self._ref(entry.artist)
        if isinstance(item, ServerTrack) and entry.album is not None:
            out["Album"] = entry.album.item.title  # type: ignore[union-attr]
            out["AlbumId"] = entry.album.native_id
        if album_artist is not None:
            out["AlbumArtist"] = album_artist.item.name  # type: ignore[union-attr]
        out["AlbumArtists"] = self._ref(album_artist)
        if isinstance(item, ServerTrack):
            out["MediaType"] = "Audio"
        return out

    def _media_source(self, entry: Entry) -> dict[str, Any]:
        path = PurePosixPath(entry.path or "")
        return {"Protocol": "File", "Id": entry.native_id, "Path": entry.path, "Type": "Default",
                "Container": path.suffix.lstrip(".") or "flac", "Name": path.stem, "IsRemote": False,
                "RunTimeTicks": entry.ticks}  # fmt: skip
