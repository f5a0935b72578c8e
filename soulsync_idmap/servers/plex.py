"""Plex Media Server through plexapi.

Listing is section-wide (``/library/sections/{id}/all?type=8|9|10&includeGuids=1``),
page by page with the X-Plex-Container-Start/Size headers, never artist -> albums ->
tracks (one request per album). Items are read from the XML plexapi parsed, never
through plexapi object attributes: reading an attribute that is ``None`` on a partial
object makes plexapi reload the item (one request per item), and ``originalTitle`` or a
missing year are ``None`` on most tracks.

Incremental sync asks for ``{type}.updatedAt>>=<epoch>`` (a new item is updated when it
is added); removal detection lists ratingKeys only. A listing goes on until ``totalSize``:
an empty page before it is asked again, then fails the listing (``IncompleteListing``).
Bad items follow servers/intake.py; retries servers/retry.py.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from xml.etree.ElementTree import Element, ParseError

import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer as PlexAPIServer

from ..errors import (
    AuthError,
    BadResponse,
    ConfigError,
    IdmapError,
    IncompleteListing,
    ServerError,
    ServerUnreachable,
    excerpt,
)
from .base import (
    EntityKind,
    MediaServer,
    ServerAlbum,
    ServerArtist,
    ServerConfig,
    ServerItem,
    ServerTrack,
    Skipped,
    only,
)
from .http_log import log_requests_response
from .intake import Intake, Listing
from .retry import REQUESTS_RETRYABLE, RetryPolicy, retry_after_seconds

__all__ = ["PlexServer"]

log = logging.getLogger(__name__)
T = TypeVar("T")
TYPE_NUMBER = {"artist": 8, "album": 9, "track": 10}
TAGS = {"artist": "Directory", "album": "Directory", "track": "Track"}
FETCH_KEYS = 50  # ratingKeys per /library/metadata/{keys} request
EMPTY_PAGE_TRIES = 3  # asks of an empty page before totalSize, before the listing fails


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _when(value: str | None) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the year 9999
        return None


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


class PlexServer(MediaServer):
    """A Plex server (its music sections) as a ``MediaServer``."""

    kind = "plex"

    def __init__(self, config: ServerConfig, *, session: requests.Session | None = None,
                 retry: RetryPolicy | None = None) -> None:  # fmt: skip
        if not config.token:
            raise ConfigError(f"{config.name}: a Plex server needs a token (--token or IDMAP_<NAME>_TOKEN)")
        self.name = config.name
        self.skipped: list[Skipped] = []
        self._intake = Intake(config.name, self.skipped)
        self._config = config
        self._session = session or requests.Session()
        self._session.verify = config.verify_tls
        self._session.hooks["response"].append(self._note_response)
        self._session.hooks["response"].append(log_requests_response)
        self._retry = retry or RetryPolicy(total=config.retry_seconds)
        self._retry_after: float | None = None
        self._page = config.page_size or 2000
        self._server: PlexAPIServer | None = None

    @property
    def repaired(self) -> dict[str, int]:
        """Items stored with a repair so far, by reason (see servers/intake.py)."""
        return dict(self._intake.repaired)

    # -- transport -----------------------------------------------------------------------
    def _note_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """plexapi raises without the response: keep its Retry-After for the retry."""
        self._retry_after = retry_after_seconds(response.headers.get("Retry-After"))

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run a plexapi call with retries over a bounded time; errors become ours (never with the token)."""
        retrying = self._retry.begin(self.name, what)
        while True:
            self._retry_after = None
            try:
                return action()
            except IdmapError:  # from a nested call (connecting)
                raise
            except Unauthorized:
                raise AuthError("the Plex token was refused (401)", server=self.name) from None
            except NotFound:
                raise BadResponse(f"{what}: not found (404)", server=self.name) from None
            except BadRequest as exc:
                status = str(exc)[1:4]
                if not (status.startswith("5") or status == "429"):
                    raise ServerError(f"{what} failed: HTTP {status}", server=self.name) from None
                failure, retry_after = f"HTTP {status}", self._retry_after
            except ParseError:
                failure, retry_after = "a cut or unreadable XML body", None
            except REQUESTS_RETRYABLE as exc:  # refused, reset, timed out, cut off mid-body
                kind = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
                failure, retry_after = f"{kind} talking to {self._config.url}", None
            except Exception as exc:  # anything else plexapi raised on what it was sent
                text = excerpt(f"{type(exc).__name__}: {exc}", (self._config.token,))
                raise BadResponse(f"{what}: {text}", server=self.name) from None
            retrying.wait(failure, retry_after)

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

        def query() -> Element:
            element: Element | None = self.server.query(key, headers=headers)  # type: ignore[no-untyped-call]
            if element is None:  # an empty body where XML was due: cut off, like a bad one
                raise ParseError("an empty body")
            return element

        return self._call(f"GET {key.split('?')[0]}", query)

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

    def change_token(self) -> str | None:
        """Each chosen music section's ``contentChangedAt``: PMS moves it on every addition,
        edit and removal in the section (None when a section does not say)."""
        wanted = set(self._sections())
        parts = []
        for section in self._query("/library/sections"):
            if section.get("key") in wanted:
                counter = section.get("contentChangedAt")
                if not counter:
                    return None
                parts.append(f"{section.get('key')}:{counter}")
        return ",".join(sorted(parts)) or None

    def _elements(self, kind: EntityKind, extra: str = "", guids: bool = True) -> Iterator[Element]:
        """Every element of ``kind`` in the music sections, page by page, up to ``totalSize``."""
        for section in self._sections():
            key = f"/library/sections/{section}/all?type={TYPE_NUMBER[kind]}{'&includeGuids=1' if guids else ''}{extra}"
            start, first = 0, None
            while True:
                page = self._listing_page(key, start)
                keys = [e.get("ratingKey") for e in page[:1]]
                if start and keys and keys == first:  # a server ignoring the start would never end
                    raise BadResponse(f"{key.split('?')[0]} sent the same items again at {start}", server=self.name)
                first = keys
                yield from (e for e in page if e.tag == TAGS[kind] and e.get("type") == kind)
                total = _int(page.get("totalSize"))
                start += len(page)
                if len(page) == 0 or ((start >= total) if total is not None else len(page) < self._page):
                    break

    def total(self, kind: EntityKind) -> int | None:
        """``totalSize`` of an empty page (X-Plex-Container-Size 0), summed over the music sections."""
        totals = [
            _int(self._query(f"/library/sections/{section}/all?type={TYPE_NUMBER[kind]}", 0, 0).get("totalSize"))
            for section in self._sections()
        ]
        return None if None in totals else sum(t for t in totals if t is not None)

    def count(self, kind: EntityKind) -> int | None:
        """The listing's ``totalSize``: exact, as an item belongs to one section only."""
        return self.total(kind)

    def _listing_page(self, key: str, start: int) -> Element:
        """One page; an empty one before ``totalSize`` is asked again, then raises."""
        retrying = self._retry.begin(self.name, f"GET {key.split('?')[0]}")
        for ask in range(1, EMPTY_PAGE_TRIES + 1):
            page = self._query(key, start, self._page)
            total = _int(page.get("totalSize"))
            if len(page) or total is None or start >= total:
                return page
            if ask < EMPTY_PAGE_TRIES:
                try:
                    retrying.wait(f"an empty page at {start} of {total}")
                except ServerUnreachable:
                    break
        raise IncompleteListing(
            f"GET {key.split('?')[0]} listed {start} of the {total} items it claims (an empty page at "
            f"X-Plex-Container-Start={start}, asked {ask} times)",
            server=self.name,
        )

    # -- items ---------------------------------------------------------------------------
    def _item(self, kind: EntityKind, e: Element) -> ServerItem:
        """The item as Plex sent it; the ``Intake`` repairs or skips what cannot be stored."""
        native = e.get("ratingKey") or ""
        title = e.get("title") or ""
        added, updated = _when(e.get("addedAt")), _when(e.get("updatedAt"))
        guid = e.get("guid")
        if guid is not None and not guid.startswith("plex://"):
            guid = None  # local://, agent ids: tied to this server's database, not to the item
        if kind == "artist":
            return ServerArtist(native, title, sort_name=e.get("titleSort"), mbid=_mbid(e), added_at=added,
                                updated_at=updated, guid=guid)  # fmt: skip
        if kind == "album":
            return ServerAlbum(native, title, artist_id=e.get("parentRatingKey"), artist_name=e.get("parentTitle"),
                               year=_int(e.get("year")), mbid=_mbid(e), added_at=added, updated_at=updated,
                               guid=guid)  # fmt: skip
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
            path=_path(e), added_at=added, updated_at=updated, guid=guid,
        )  # fmt: skip

    def _items(self, kind: EntityKind, extra: str = "") -> Iterator[ServerItem]:
        listing = Listing()
        for element in self._elements(kind, extra):
            item = self._intake.accept(self._item(kind, element), listing)
            if item is not None:
                yield item

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

    def fetch(self, kind: EntityKind, native_ids: Sequence[str]) -> Iterator[ServerItem]:
        """``/library/metadata/{ratingKey,ratingKey,...}``, fifty keys a request."""
        for start in range(0, len(native_ids), FETCH_KEYS):
            keys = ",".join(native_ids[start : start + FETCH_KEYS])
            for element in self._query(f"/library/metadata/{keys}?includeGuids=1"):
                if element.tag != TAGS[kind] or element.get("type") != kind:
                    continue
                if (item := self._intake.accept(self._item(kind, element))) is not None:
                    yield item

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        """Every ratingKey of ``kind``, once each; items without one are reported by the listings."""
        seen: set[str] = set()
        for element in self._elements(kind, guids=False):
            native = (element.get("ratingKey") or "").strip()
            if native and native not in seen:
                seen.add(native)
                yield native

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        artist = self._call(f"fetch artist {native_id}", lambda: self.server.fetchItem(int(native_id)))  # type: ignore[no-untyped-call]
        self._call(f"upload poster for {native_id}", lambda: artist.uploadPoster(filepath=io.BytesIO(data)))

    def close(self) -> None:
        self._session.close()
