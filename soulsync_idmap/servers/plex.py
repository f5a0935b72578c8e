"""Plex Media Server through plexapi.

Listing is section-wide (``/library/sections/{id}/all?type=8|9|10&includeGuids=1``),
page by page with the X-Plex-Container-Start/Size headers, never artist -> albums ->
tracks (one request per album). Items are read from the XML plexapi parsed, never
through plexapi object attributes: reading an attribute that is ``None`` on a partial
object makes plexapi reload the item (one request per item), and ``originalTitle`` or a
missing year are ``None`` on most tracks.

Incremental sync asks for ``{type}.updatedAt>>=<epoch>`` (a new item is updated when it
is added); removal detection lists ratingKeys only.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar
from xml.etree.ElementTree import Element

import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer as PlexAPIServer

from ..errors import AuthError, BadResponse, ConfigError, ServerError, ServerUnreachable
from .base import EntityKind, ServerAlbum, ServerArtist, ServerConfig, ServerItem, ServerTrack, only
from .http_log import log_requests_response

__all__ = ["PlexServer"]

log = logging.getLogger(__name__)
T = TypeVar("T")
TYPE_NUMBER = {"artist": 8, "album": 9, "track": 10}
TAGS = {"artist": "Directory", "album": "Directory", "track": "Track"}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _when(value: str | None) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _mbid(element: Element) -> str | None:
    for guid in element.findall("Guid"):
        value = guid.get("id", "")
        if value.startswith("mbid://"):
            return value[len("mbid://") :]
    return None


def _path(element: Element) -> str | None:
    for part in element.iter("Part"):
        if part.get("file"):
            return part.get("file")
    return None


class PlexServer:
    """A Plex server (its music sections) as a ``MediaServer``."""

    kind = "plex"

    def __init__(
        self,
        config: ServerConfig,
        *,
        session: requests.Session | None = None,
        tries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not config.token:
            raise ConfigError(f"{config.name}: a Plex server needs a token (--token or IDMAP_<NAME>_TOKEN)")
        self.name = config.name
        self._config = config
        self._session = session or requests.Session()
        self._session.verify = config.verify_tls
        self._session.hooks["response"].append(log_requests_response)
        self._tries = max(1, tries)
        self._backoff = backoff
        self._sleep = sleep
        self._page = config.page_size or 2000
        self._server: PlexAPIServer | None = None

    # -- transport -----------------------------------------------------------------------
    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run a plexapi call with bounded retries; errors become ours (never with the token)."""
        for attempt in range(1, self._tries + 1):
            try:
                return action()
            except Unauthorized:
                raise AuthError("the Plex token was refused (401)", server=self.name) from None
            except NotFound:
                raise BadResponse(f"{what}: not found (404)", server=self.name) from None
            except BadRequest as exc:
                status = str(exc)[1:4]
                if not (status.startswith("5") or status == "429") or attempt == self._tries:
                    raise ServerError(f"{what} failed: HTTP {status}", server=self.name) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self._tries:
                    kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                    raise ServerUnreachable(f"{what}: {kind} to {self._config.url}", server=self.name) from None
            except Exception as exc:  # malformed XML and the like
                raise BadResponse(f"{what}: {type(exc).__name__}: {exc}", server=self.name) from None
            self._sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    @property
    def server(self) -> PlexAPIServer:
        if self._server is None:
            url, token, timeout = self._config.url, self._config.token, self._config.timeout
            self._server = self._call(
                "connect",
                lambda: PlexAPIServer(url, token, session=self._session, timeout=int(timeout)),  # type: ignore[no-untyped-call]
            )
        return self._server

    def _query(self, key: str, start: int | None = None, size: int | None = None) -> Element:
        headers = {}
        if start is not None and size is not None:
            headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        element: Element | None = self._call(
            f"GET {key.split('?')[0]}",
            lambda: self.server.query(key, headers=headers),  # type: ignore[no-untyped-call]
        )
        if element is None:
            raise BadResponse(f"GET {key.split('?')[0]} returned an empty body", server=self.name)
        return element

    # -- sections ------------------------------------------------------------------------
    def instance_id(self) -> str:
        identifier = self.server.machineIdentifier
        if not identifier:
            raise BadResponse("the server has no machineIdentifier", server=self.name)
        return str(identifier)

    def _sections(self) -> list[str]:
        sections = self._call("list sections", lambda: self.server.library.sections())
        music = [s for s in sections if s.type == "artist"]
        if self._config.library:
            chosen = [s for s in music if s.title == self._config.library]
            if not chosen:
                names = ", ".join(s.title for s in music) or "none"
                raise ConfigError(f"{self.name}: no music library {self._config.library!r} (found: {names})")
            music = chosen
        return [str(s.key) for s in music]

    def _elements(self, kind: EntityKind, extra: str = "", guids: bool = True) -> Iterator[Element]:
        """Every element of ``kind`` in the music sections, page by page."""
        for section in self._sections():
            key = f"/library/sections/{section}/all?type={TYPE_NUMBER[kind]}{'&includeGuids=1' if guids else ''}{extra}"
            start = 0
            while True:
                page = self._query(key, start, self._page)
                items = [e for e in page if e.tag == TAGS[kind] and e.get("type") == kind]
                yield from items
                total = _int(page.get("totalSize"))
                start += len(page)
                if len(page) == 0 or len(page) < self._page or (total is not None and start >= total):
                    break

    # -- items ---------------------------------------------------------------------------
    def _item(self, kind: EntityKind, e: Element) -> ServerItem:
        native = e.get("ratingKey") or ""
        if not native:
            raise BadResponse(f"a {kind} without ratingKey", server=self.name, item=e.get("title"))
        title = e.get("title") or ""
        added, updated = _when(e.get("addedAt")), _when(e.get("updatedAt"))
        if kind == "artist":
            return ServerArtist(native, title, sort_name=e.get("titleSort"), mbid=_mbid(e), added_at=added,
                                updated_at=updated)  # fmt: skip
        if kind == "album":
            return ServerAlbum(native, title, artist_id=e.get("parentRatingKey"), artist_name=e.get("parentTitle"),
                               year=_int(e.get("year")), mbid=_mbid(e), added_at=added, updated_at=updated)  # fmt: skip
        album_artist = e.get("grandparentTitle")
        track_artist = e.get("originalTitle")
        artist_id: str | None
        artist_name: str | None
        if track_artist and track_artist != album_artist:
            artist_id, artist_name = None, track_artist  # a track artist Plex keeps as text only
        else:
            artist_id, artist_name = e.get("grandparentRatingKey"), album_artist
        return ServerTrack(
            native, title, album_id=e.get("parentRatingKey"), artist_id=artist_id, artist_name=artist_name,
            album_title=e.get("parentTitle"), track_number=_int(e.get("index")), disc_number=_int(e.get("parentIndex")),
            duration_ms=_int(e.get("duration")), year=_int(e.get("parentYear") or e.get("year")), mbid=_mbid(e),
            path=_path(e), added_at=added, updated_at=updated,
        )  # fmt: skip

    def _items(self, kind: EntityKind, extra: str = "") -> Iterator[ServerItem]:
        for element in self._elements(kind, extra):
            yield self._item(kind, element)

    def iter_artists(self) -> Iterator[ServerArtist]:
        return only(self._items("artist"), ServerArtist)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        return only(self._items("album"), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        return only(self._items("track"), ServerTrack)

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        epoch = int(watermark.timestamp())
        kinds: tuple[EntityKind, ...] = ("artist", "album", "track")
        for kind in kinds:
            yield from self._items(kind, f"&{kind}.updatedAt%3E%3E={epoch}")

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        for element in self._elements(kind, guids=False):
            native = element.get("ratingKey")
            if native:
                yield native

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        artist = self._call(f"fetch artist {native_id}", lambda: self.server.fetchItem(int(native_id)))  # type: ignore[no-untyped-call]
        self._call(f"upload poster for {native_id}", lambda: artist.uploadPoster(filepath=io.BytesIO(data)))

    def close(self) -> None:
        self._session.close()
