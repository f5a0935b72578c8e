"""A fake Subsonic / OpenSubsonic server on 127.0.0.1 that serves a snapshot library file.

    with FakeSubsonic("library.jsonl", user="alice", password="s3cret") as fake:
        ... SubsonicServer(ServerConfig("nd", "subsonic", fake.url, user="alice", password="s3cret")) ...
        fake.native_id("track", "t1")   # the id the adapter must link

Shapes follow the OpenSubsonic spec examples in the shared fixtures (Navidrome-like:
hex ids, ``created`` with nanoseconds, ``isrc`` as a list, ``musicBrainzId``), which the
real supysonic does not produce. It checks auth as the API version demands (token auth
from 1.13.0, ``p=`` before) and can play the servers the adapter must survive:
``empty_query="error"`` refuses an empty search3 query, ``"empty"`` answers it with
nothing (as classic Subsonic does), and ``max_count`` caps every search3 page below
what was asked; ``local_offset`` writes ``created`` as naive local time, as supysonic
does. Edit the library file and call ``load()`` to change the library. ``tamper`` rewrites
every artist, album and song object it serves (an empty title, no id, NUL characters...),
and the ``empty`` fault answers a page with nothing in it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from soulsync_idmap.demo.loopback import LoopbackServer, Request, Response
from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack
from soulsync_idmap.servers.snapshot import read_snapshot

__all__ = ["FakeSubsonic"]

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
EmptyQuery = Literal["all", "error", "empty"]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3])


def _created(when: datetime | None, local_offset: int | None) -> str:
    """Navidrome writes UTC with nanoseconds; supysonic writes naive local time (``local_offset`` hours)."""
    if local_offset is not None:
        return ((when or EPOCH).astimezone(UTC) + timedelta(hours=local_offset)).strftime("%Y-%m-%dT%H:%M:%S")
    return (when or EPOCH).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


class FakeSubsonic(LoopbackServer):
    """Serve ``library`` (a snapshot file) through the Subsonic REST API (``f=json`` only)."""

    def __init__(
        self,
        library: str | os.PathLike[str],
        *,
        user: str = "alice",
        password: str = "s3cret",
        version: str = "1.16.1",
        server_type: str = "fakesonic",
        empty_query: EmptyQuery = "all",
        max_count: int | None = None,
        local_offset: int | None = None,
        tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.tamper = tamper
        self.library = library
        self.user, self.password, self.version = user, password, version
        self.server_type, self.empty_query, self.max_count = server_type, empty_query, max_count
        self.local_offset = local_offset
        self.load()

    # -- library ---------------------------------------------------------------------------
    def load(self) -> None:
        """(Re)read the library file; native ids are stable hashes of the snapshot ids."""
        items = list(read_snapshot(self.library))
        self.artists = {self.native_id("artist", i.native_id): i for i in items if isinstance(i, ServerArtist)}
        self.albums = {self.native_id("album", i.native_id): i for i in items if isinstance(i, ServerAlbum)}
        self.tracks = {self.native_id("track", i.native_id): i for i in items if isinstance(i, ServerTrack)}

    @staticmethod
    def native_id(kind: str, snapshot_id: str) -> str:
        return hashlib.md5(f"{kind}:{snapshot_id}".encode()).hexdigest()

    def _ref(self, kind: str, snapshot_id: str | None) -> str | None:
        return self.native_id(kind, snapshot_id) if snapshot_id else None

    def _tampered(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.tamper(data) if self.tamper is not None else data

    def _artist(self, native: str, item: ServerArtist) -> dict[str, Any]:
        count = sum(1 for a in self.albums.values() if self._ref("artist", a.artist_id) == native)
        return self._served({"id": native, "name": item.name, "sortName": item.sort_name, "albumCount": count,
                       "musicBrainzId": item.mbid, "coverArt": f"ar-{native}"})  # fmt: skip

    def _songs(self, album_native: str) -> list[tuple[str, ServerTrack]]:
        songs = [(n, t) for n, t in self.tracks.items() if self._ref("album", t.album_id) == album_native]
        return sorted(songs, key=lambda s: (s[1].disc_number or 0, s[1].track_number or 0, s[1].title))

    def _album(self, native: str, item: ServerAlbum) -> dict[str, Any]:
        songs = self._songs(native)
        artist = self.artists.get(self._ref("artist", item.artist_id) or "")
        return self._served({"id": native, "name": item.title, "artist": artist.name if artist else item.artist_name,
                       "artistId": self._ref("artist", item.artist_id), "year": item.year,
                       "created": _created(item.added_at, self.local_offset), "songCount": len(songs),
                       "duration": sum((t.duration_ms or 0) // 1000 for _, t in songs),
                       "musicBrainzId": item.mbid, "coverArt": f"al-{native}"})  # fmt: skip

    def _song(self, native: str, item: ServerTrack) -> dict[str, Any]:
        album = self.albums.get(self._ref("album", item.album_id) or "")
        artist = self.artists.get(self._ref("artist", item.artist_id) or "")
        return self._served({"id": native, "parent": self._ref("album", item.album_id), "isDir": False,
                       "title": item.title, "album": album.title if album else item.album_title,
                       "artist": artist.name if artist else item.artist_name, "track": item.track_number,
                       "discNumber": item.disc_number, "year": item.year,
                       "duration": round(item.duration_ms / 1000) if item.duration_ms else None,
                       "path": item.path, "created": _created(item.added_at, self.local_offset),
                       "albumId": self._ref("album", item.album_id), "artistId": self._ref("artist", item.artist_id),
                       "musicBrainzId": item.mbid, "isrc": [item.isrc] if item.isrc else [],
                       "type": "music", "mediaType": "song", "isVideo": False})  # fmt: skip

    def _served(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._tampered(_clean(data))

    def empty(self, request: Request, response: Response) -> Response:
        """The answer with nothing in it (an empty ``searchResult3`` or ``albumList2``)."""
        body = json.loads(response.body)
        inner = body.get("subsonic-response", {})
        for key in ("searchResult3", "albumList2"):
            if key in inner:
                inner[key] = {}
        return Response(200, json.dumps(body).encode())

    # -- protocol --------------------------------------------------------------------------
    def _envelope(self, status: str = "ok", **payload: Any) -> Response:
        body = {"status": status, "version": self.version, "type": self.server_type,
                "serverVersion": "0.0.1 (fake)", "openSubsonic": True, **payload}  # fmt: skip
        return Response(200, json.dumps({"subsonic-response": body}).encode())  # \u escapes: lone surrogates too

    def _error(self, code: int, message: str) -> Response:
        return self._envelope("failed", error={"code": code, "message": message})

    def _auth_error(self, request: Request) -> Response | None:
        q = request.query
        if "u" not in q or not ({"t", "s"} <= q.keys() or "p" in q):
            return self._error(10, "Required parameter is missing.")
        if "t" in q and _version(self.version) < (1, 13, 0):
            return self._error(30, "Incompatible Subsonic REST protocol version. Server must upgrade.")
        if "t" in q:
            good = hashlib.md5((self.password + q.get("s", "")).encode()).hexdigest() == q["t"]
        else:
            given = q["p"]
            try:
                good = (bytes.fromhex(given[4:]).decode() if given.startswith("enc:") else given) == self.password
            except ValueError:
                good = False
        return None if good and q["u"] == self.user else self._error(40, "Wrong username or password.")

    def handle(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1].removesuffix(".view")
        if not request.path.startswith("/rest/"):
            return Response(404, b"not found", "text/plain")
        if request.query.get("f") != "json":
            return Response(400, b"this fake speaks f=json only", "text/plain")
        failure = self._auth_error(request)
        if failure is not None:
            return failure
        route = getattr(self, f"_do_{method}", None)
        if route is None:
            return Response(404, b"unknown method", "text/plain")
        response: Response = route(request.query)
        return response

    def _render(self, native: str, item: ServerItem) -> dict[str, Any]:
        if isinstance(item, ServerArtist):
            return self._artist(native, item)
        return self._album(native, item) if isinstance(item, ServerAlbum) else self._song(native, item)

    def _do_ping(self, q: dict[str, str]) -> Response:
        return self._envelope()

    def _do_getArtists(self, q: dict[str, str]) -> Response:
        index: dict[str, list[dict[str, Any]]] = {}
        for native, item in sorted(self.artists.items(), key=lambda a: a[1].name.casefold()):
            index.setdefault((item.name[:1] or "#").upper(), []).append(self._artist(native, item))
        return self._envelope(artists={"ignoredArticles": "The", "index": [{"name": k, "artist": v}
                                                                          for k, v in index.items()]})  # fmt: skip

    def _do_getArtist(self, q: dict[str, str]) -> Response:
        item = self.artists.get(q.get("id", ""))
        if item is None:
            return self._error(70, "Artist not found")
        albums = [self._album(n, a) for n, a in self.albums.items() if self._ref("artist", a.artist_id) == q["id"]]
        return self._envelope(artist={**self._artist(q["id"], item), "album": albums})

    def _do_getAlbum(self, q: dict[str, str]) -> Response:
        item = self.albums.get(q.get("id", ""))
        if item is None:
            return self._error(70, "Album not found")
        songs = [self._song(n, t) for n, t in self._songs(q["id"])]
        return self._envelope(album={**self._album(q["id"], item), "song": songs})

    def _do_getSong(self, q: dict[str, str]) -> Response:
        item = self.tracks.get(q.get("id", ""))
        return self._error(70, "Song not found") if item is None else self._envelope(song=self._song(q["id"], item))

    def _do_getAlbumList2(self, q: dict[str, str]) -> Response:
        kind = q.get("type")
        if kind not in ("newest", "alphabeticalByName"):
            return self._error(0, f"type {kind!r} not served by this fake")
        albums = sorted(self.albums.items(), key=lambda a: a[1].title.casefold())
        if kind == "newest":
            albums.sort(key=lambda a: a[1].added_at or EPOCH, reverse=True)
        size, offset = min(int(q.get("size", "10")), 500), int(q.get("offset", "0"))
        return self._envelope(albumList2={"album": [self._album(n, a) for n, a in albums[offset : offset + size]]})

    def _do_search3(self, q: dict[str, str]) -> Response:
        if "query" not in q:
            return self._error(10, "Required parameter 'query' is missing.")
        text = q["query"].strip('"').casefold()
        if not text and self.empty_query == "error":
            return self._error(10, "Required parameter 'query' is missing.")
        everything = not text and self.empty_query == "all"
        result: dict[str, list[dict[str, Any]]] = {}
        tables: dict[str, dict[str, Any]] = {"artist": self.artists, "album": self.albums, "song": self.tracks}
        for key, table in tables.items():
            found = [(n, i) for n, i in table.items() if everything or (text and text in _title(i).casefold())]
            count, offset = int(q.get(f"{key}Count", "20")), int(q.get(f"{key}Offset", "0"))
            count = min(count, self.max_count) if self.max_count is not None else count
            page = [self._render(n, i) for n, i in found[offset : offset + count]]
            if page:
                result[key] = page
        return self._envelope(searchResult3=result)


def _title(item: ServerItem) -> str:
    return item.name if isinstance(item, ServerArtist) else item.title


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Drop absent fields, as real servers omit them rather than sending null."""
    return {k: v for k, v in data.items() if v is not None}
