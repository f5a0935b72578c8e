"""Subsonic / OpenSubsonic servers (Navidrome, Gonic, Airsonic, supysonic) over httpx.

Auth follows the server's API version, read from an unauthenticated-safe ``ping``:
1.13.0 and newer get token auth (``t`` = md5(password + salt), ``s`` = salt); older
servers get the hex-encoded password (``p=enc:...``). Listing uses ``search3`` with an
empty query and per-type paging (OpenSubsonic requires servers to accept it): about
(items / 500) requests, against one request per artist and per album for
``getArtists`` -> ``getArtist`` -> ``getAlbum``, which stays as the fallback.

The API has no updated-at field: incremental sync reads ``getAlbumList2?type=newest``
(ordered by ``created``) until it passes the watermark, then those albums' tracks and
artists; edits to existing items are seen at the weekly full pass. Removals are found
by the cheap id pass (``search3`` again). There is no image upload in the API.

The API gives no totals: a listing ends on an empty page, which is asked once more before
it is believed, and a ``search3`` song listing is checked against the sum of its albums'
``songCount`` (``IncompleteListing`` when it falls short). Bad items follow
servers/intake.py; retries servers/retry.py.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from ..errors import (
    AuthError,
    BadResponse,
    ConfigError,
    IncompleteListing,
    ServerError,
    ServerUnreachable,
    Unsupported,
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
    read_datetime,
)
from .http_log import httpx_hooks
from .intake import Intake, Listing
from .retry import HTTPX_RETRYABLE, RetryPolicy, retry_after_seconds

__all__ = ["SubsonicServer"]

log = logging.getLogger(__name__)
CLIENT = "soulsync-idmap"
NAIVE_SLACK = timedelta(hours=14)  # the widest UTC offset
SEARCH_KEYS = {"artist": ("artist", "artistCount", "artistOffset"), "album": ("album", "albumCount", "albumOffset"),
               "track": ("song", "songCount", "songOffset")}  # fmt: skip


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(".")[:3])
    except ValueError:
        return (1, 0, 0)


def _when(value: Any) -> datetime | None:
    return read_datetime(value)


def _str(value: Any) -> str | None:
    """A text field as text: numbers as their digits, anything else (lists, objects) as absent."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _since(created: Any, watermark: datetime) -> bool:
    """Was an album created at or after the watermark? Unknown dates count as new.

    Some servers (supysonic) write naive local times, which read as UTC may be off by the
    server's UTC offset: those get 14 hours of slack, so an addition is never missed.
    """
    when = _when(created)
    if when is None:
        return True
    naive = not str(created).rstrip().endswith(("Z", "z")) and "+" not in str(created)[10:] \
        and "-" not in str(created)[10:]  # fmt: skip
    return when >= (watermark - NAIVE_SLACK if naive else watermark)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class _Seen:
    """Ids listed so far: a page with nothing new ends a listing, even on a server that
    ignores the offset and serves the first page forever."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def fresh(self, page: list[dict[str, Any]]) -> bool:
        before = len(self._ids)
        self._ids.update(str(item.get("id")) for item in page)
        return len(self._ids) > before


class _Retry(Exception):
    """One failed try that may succeed when repeated."""

    def __init__(self, failure: str, retry_after: float | None = None) -> None:
        super().__init__(failure)
        self.failure, self.retry_after = failure, retry_after


class SubsonicServer(MediaServer):
    kind = "subsonic"

    def __init__(
        self,
        config: ServerConfig,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        listing: Literal["auto", "search3", "walk"] = "auto",
    ) -> None:
        if not config.user or not config.password:
            raise ConfigError(f"{config.name}: a Subsonic server needs --user and --password")
        self.name = config.name
        self.skipped: list[Skipped] = []
        self._intake = Intake(config.name, self.skipped)
        self._config = config
        self._base = config.url.rstrip("/")
        self._client = client or httpx.Client(
            timeout=config.timeout, verify=config.verify_tls, event_hooks=httpx_hooks()
        )
        self._retry = retry or RetryPolicy(total=config.retry_seconds)
        self._song_total: int | None = None  # the sum of songCount of the albums last listed
        self._page = config.page_size or 500
        self._api: str | None = None
        self._type = "subsonic"
        # "auto" probes search3 once; the others skip the probe (tests, or a server known to need it).
        self._search_ok: bool | None = {"auto": None, "search3": True, "walk": False}[listing]

    # -- transport -----------------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        assert self._config.user and self._config.password
        params = {"u": self._config.user, "v": self._api or "1.12.0", "c": CLIENT, "f": "json"}
        if self._api and _version(self._api) >= (1, 13, 0):
            salt = secrets.token_hex(8)
            params.update(t=hashlib.md5((self._config.password + salt).encode()).hexdigest(), s=salt)
        else:
            params["p"] = "enc:" + self._config.password.encode().hex()
        return params

    @property
    def repaired(self) -> dict[str, int]:
        """Items stored with a repair so far, by reason (see servers/intake.py)."""
        return dict(self._intake.repaired)

    def _get(self, method: str, **params: Any) -> dict[str, Any]:
        """One call with retries over a bounded time (connection errors, 5xx, 429, cut bodies)."""
        if self._api is None and method != "ping":
            self._ping()
        url = f"{self._base}/rest/{method}"
        retrying = self._retry.begin(self.name, method)
        while True:
            try:
                response = self._client.get(url, params={**self._auth(), **params})
                if response.status_code in (429, 500, 502, 503, 504):
                    after = retry_after_seconds(response.headers.get("Retry-After"))
                    raise _Retry(f"HTTP {response.status_code}", after)
                return self._body(method, response)
            except HTTPX_RETRYABLE as exc:  # refused, reset, timed out, cut off mid-body
                failure, retry_after = f"{type(exc).__name__} talking to {self._base}", None
            except httpx.HTTPError as exc:  # no later try can succeed (a URL without a scheme...)
                raise ServerUnreachable(
                    f"{method}: {type(exc).__name__} talking to {self._base}", server=self.name
                ) from None
            except _Retry as failed:
                failure, retry_after = failed.failure, failed.retry_after
            retrying.wait(failure, retry_after)

    def _body(self, method: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise AuthError(f"{method}: HTTP {response.status_code}", server=self.name)
        if response.status_code >= 400:
            raise ServerError(f"{method}: HTTP {response.status_code}", server=self.name)
        try:
            body = response.json()["subsonic-response"]
        except ValueError:
            if response.text.lstrip()[:1] == "{":
                raise _Retry("a cut or unreadable JSON body") from None
            raise BadResponse(f"{method}: not a Subsonic JSON response", server=self.name) from None
        except (KeyError, TypeError):
            raise BadResponse(f"{method}: not a Subsonic JSON response", server=self.name) from None
        if not isinstance(body, dict):
            raise BadResponse(f"{method}: not a Subsonic JSON response", server=self.name)
        if body.get("status") != "ok":
            error = body.get("error")
            error = error if isinstance(error, dict) else {}
            code = error.get("code")
            message = excerpt(str(error.get("message", "unknown error")), self._secrets())
            if code in (40, 41, 50):
                raise AuthError(f"{method}: {message} (code {code})", server=self.name)
            raise ServerError(f"{method}: {message} (code {code})", server=self.name)
        return dict(body)

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._config.password,)

    def _ping(self) -> None:
        """Learn the API version without credentials, then check them with the right auth.

        A ping without credentials fails, but its envelope carries the server's version:
        the password is never sent in a form the server does not need.
        """
        retrying = self._retry.begin(self.name, "ping")
        while True:
            try:
                response = self._client.get(f"{self._base}/rest/ping", params={"v": "1.16.1", "c": CLIENT, "f": "json"})
                if response.status_code in (429, 500, 502, 503, 504):
                    failure = f"HTTP {response.status_code}"
                else:
                    envelope = response.json().get("subsonic-response") or {}
                    break
            except HTTPX_RETRYABLE as exc:
                failure = f"{type(exc).__name__} talking to {self._base}"
            except httpx.HTTPError as exc:
                raise ServerUnreachable(
                    f"ping: {type(exc).__name__} talking to {self._base}", server=self.name
                ) from None
            except (ValueError, AttributeError):
                if response.text.lstrip()[:1] != "{":
                    raise BadResponse("ping: not a Subsonic JSON response", server=self.name) from None
                failure = "a cut or unreadable JSON body"
            retrying.wait(failure)
        self._api = str(envelope.get("version") or "1.12.0")
        self._type = str(envelope.get("type") or "subsonic")
        self._get("ping")

    # -- identity --------------------------------------------------------------------------
    def instance_id(self) -> str:
        """The API has no server id: the kind of server, its URL and the user stand in for one."""
        if self._api is None:
            self._ping()
        return f"{self._type}:{self._base.lower()}:{self._config.user}"

    # -- listing ---------------------------------------------------------------------------
    def _search3(self, kind: EntityKind) -> Iterator[dict[str, Any]]:
        key, count, offset = SEARCH_KEYS[kind]
        zero = {c: 0 for _, c, _ in SEARCH_KEYS.values()}

        def page(start: int) -> list[dict[str, Any]]:
            items = (self._get("search3", query="", **{**zero, count: self._page, offset: start})
                     .get("searchResult3") or {}).get(key) or []  # fmt: skip
            return [i for i in items if isinstance(i, dict)]

        songs = listed = 0
        for item in self._paged(page):
            songs += _count(item.get("songCount"))
            listed += 1
            yield item
        if kind == "album":
            self._song_total = songs
        elif kind == "track":
            self._check_songs(listed)

    def _paged(self, page: Callable[[int], list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        """Every item of a paged call, to the first empty page (asked twice before it is believed).

        Only an empty page ends the listing: a server may cap the count below what was asked,
        and stopping at a short page would drop the rest (and mark it gone). A page with
        nothing new ends it too, on a server that ignores the offset and repeats itself.
        """
        start, seen = 0, _Seen()
        while True:
            items = page(start) or page(start)
            if not seen.fresh(items):
                return
            yield from items
            start += len(items)

    def _check_songs(self, listed: int) -> None:
        """A ``search3`` song listing must reach the songs its albums count (asked fresh if short)."""
        if self._song_total is None or listed < self._song_total:
            list(self._search3("album"))  # the albums as they are now
        expected = self._song_total or 0
        if listed < expected:
            raise IncompleteListing(
                f"search3 listed {listed} songs, but the albums count {expected} (an empty page before the end)",
                server=self.name,
            )

    def _album_list(self) -> Iterator[dict[str, Any]]:
        """Every album, 500 a page (``getAlbumList2`` exists since API 1.8 and caps size at 500)."""
        size = min(self._page, 500)

        def page(offset: int) -> list[dict[str, Any]]:
            albums = (self._get("getAlbumList2", type="alphabeticalByName", size=size, offset=offset)
                      .get("albumList2") or {}).get("album") or []  # fmt: skip
            return [a for a in albums if isinstance(a, dict)]

        yield from self._paged(page)

    def _walk(self, kind: EntityKind) -> Iterator[dict[str, Any]]:
        """The fallback: artists from ``getArtists`` (one request), albums from ``getAlbumList2``,
        tracks from ``getAlbum`` (one request per album)."""
        if kind == "artist":
            for index in (self._get("getArtists").get("artists") or {}).get("index") or []:
                yield from index.get("artist") or []
            return
        for album in self._album_list():
            if kind == "album":
                yield album
            elif album.get("id") not in (None, ""):
                yield from (self._get("getAlbum", id=album["id"]).get("album") or {}).get("song") or []

    def _search3_lists_all(self) -> bool:
        """Does ``search3`` with an empty query list the library? Asked once per adapter.

        OpenSubsonic servers must accept it; older ones refuse it (an error) or, like classic
        Subsonic's Lucene search, answer it with nothing, which must not read as an empty library.
        """
        if self._search_ok is None:
            try:
                body = self._get("search3", query="", artistCount=1, albumCount=0, songCount=0)
            except AuthError:
                raise
            except ServerError as exc:
                log.info("%s: search3 refused (%s); listing with getArtists/getAlbumList2", self.name, exc)
                self._search_ok = False
            else:
                found = bool((body.get("searchResult3") or {}).get("artist"))
                # Nothing found: the library is empty, or the server ignores empty queries.
                self._search_ok = found or not any(self._walk("artist"))
                if not self._search_ok:
                    log.info("%s: search3 finds nothing for an empty query; using the fallback", self.name)
        return self._search_ok

    def _raw(self, kind: EntityKind) -> Iterator[dict[str, Any]]:
        yield from self._search3(kind) if self._search3_lists_all() else self._walk(kind)

    def _item(self, kind: EntityKind, raw: dict[str, Any]) -> ServerItem:
        """The item as the server sent it; the ``Intake`` repairs or skips what cannot be stored."""
        native = _str(raw.get("id")) or ""
        created = _when(raw.get("created"))
        mbid = _str(raw.get("musicBrainzId"))
        if kind == "artist":
            return ServerArtist(native, _str(raw.get("name")) or "", sort_name=_str(raw.get("sortName")), mbid=mbid,
                                added_at=created)  # fmt: skip
        if kind == "album":
            return ServerAlbum(native, _str(raw.get("name")) or _str(raw.get("title")) or "",
                               artist_id=_str(raw.get("artistId")), artist_name=_str(raw.get("artist")),
                               year=_int(raw.get("year")), mbid=mbid, added_at=created)  # fmt: skip
        duration = _int(raw.get("duration"))
        isrc = raw.get("isrc")
        return ServerTrack(
            native, _str(raw.get("title")) or "", album_id=_str(raw.get("albumId")),
            artist_id=_str(raw.get("artistId")), artist_name=_str(raw.get("artist")),
            album_title=_str(raw.get("album")), track_number=_int(raw.get("track")),
            disc_number=_int(raw.get("discNumber")), duration_ms=duration * 1000 if duration else None,
            year=_int(raw.get("year")), mbid=mbid, isrc=_str(isrc[0]) if isinstance(isrc, list) and isrc else None,
            path=_str(raw.get("path")), added_at=created,
        )  # fmt: skip

    def _items(self, kind: EntityKind, raws: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Iterator[ServerItem]:
        listing = Listing()
        for raw in raws:
            item = self._intake.accept(self._item(kind, raw), listing)
            if item is not None:
                yield item

    def iter_artists(self) -> Iterator[ServerArtist]:
        return only(self._items("artist", self._raw("artist")), ServerArtist)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        return only(self._items("album", self._raw("album")), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        return only(self._items("track", self._raw("track")), ServerTrack)

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        """Albums created since the watermark (newest first), their artists and tracks."""
        albums: list[dict[str, Any]] = []
        size, offset, seen = min(self._page, 500), 0, _Seen()
        while True:
            page = self._get("getAlbumList2", type="newest", size=size, offset=offset).get("albumList2") or {}
            batch = page.get("album") or []
            if not seen.fresh(batch):
                break
            fresh = [a for a in batch if _since(a.get("created"), watermark)]
            albums.extend(fresh)
            if len(fresh) < len(batch):  # newest first: the rest is older still
                break
            offset += len(batch)
        full = [self._get("getAlbum", id=a["id"]).get("album") or a if _str(a.get("id")) else a for a in albums]
        artist_ids = dict.fromkeys(str(a["artistId"]) for a in full if _str(a.get("artistId")))
        artists = [self._get("getArtist", id=artist_id).get("artist") or {} for artist_id in artist_ids]
        yield from self._items("artist", [a for a in artists if a])
        yield from self._items("album", full)
        yield from self._items("track", [s for album in full for s in album.get("song") or [] if isinstance(s, dict)])

    def fetch(self, kind: EntityKind, native_ids: Sequence[str]) -> Iterator[ServerItem]:
        """``getArtist`` / ``getAlbum`` / ``getSong``, one request an id; an id the server no
        longer knows (error 70) is left out."""
        method, key = {"artist": ("getArtist", "artist"), "album": ("getAlbum", "album"), "track": ("getSong", "song")}[
            kind
        ]
        for native in native_ids:
            try:
                raw = self._get(method, id=native).get(key)
            except ServerError as exc:
                if "(code 70)" in str(exc):
                    continue
                raise
            if raw and (item := self._intake.accept(self._item(kind, raw))) is not None:
                yield item

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        """Every id of ``kind``, once each; items without one are reported by the listings."""
        seen: set[str] = set()
        for raw in self._raw(kind):
            native = (_str(raw.get("id")) or "").strip()
            if native and native not in seen:
                seen.add(native)
                yield native

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        raise Unsupported("the Subsonic API has no image upload", server=self.name)

    def close(self) -> None:
        self._client.close()
