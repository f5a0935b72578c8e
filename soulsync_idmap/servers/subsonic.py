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
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from ..errors import AuthError, BadResponse, ConfigError, ServerError, ServerUnreachable, Unsupported
from .base import EntityKind, ServerAlbum, ServerArtist, ServerConfig, ServerItem, ServerTrack, only, parse_datetime
from .http_log import httpx_hooks

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
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


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


class SubsonicServer:
    kind = "subsonic"

    def __init__(
        self,
        config: ServerConfig,
        *,
        client: httpx.Client | None = None,
        tries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        listing: Literal["auto", "search3", "walk"] = "auto",
    ) -> None:
        if not config.user or not config.password:
            raise ConfigError(f"{config.name}: a Subsonic server needs --user and --password")
        self.name = config.name
        self._config = config
        self._base = config.url.rstrip("/")
        self._client = client or httpx.Client(
            timeout=config.timeout, verify=config.verify_tls, event_hooks=httpx_hooks()
        )
        self._tries, self._backoff, self._sleep = max(1, tries), backoff, sleep
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

    def _get(self, method: str, **params: Any) -> dict[str, Any]:
        if self._api is None and method != "ping":
            self._ping()
        url = f"{self._base}/rest/{method}"
        for attempt in range(1, self._tries + 1):
            try:
                response = self._client.get(url, params={**self._auth(), **params})
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt == self._tries:
                    raise ServerUnreachable(
                        f"{method}: {type(exc).__name__} talking to {self._base}", server=self.name
                    ) from None
            else:
                if response.status_code in (429, 500, 502, 503, 504) and attempt < self._tries:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                return self._body(method, response)
            self._sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _body(self, method: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise AuthError(f"{method}: HTTP {response.status_code}", server=self.name)
        if response.status_code >= 400:
            raise ServerError(f"{method}: HTTP {response.status_code}", server=self.name)
        try:
            body = response.json()["subsonic-response"]
        except (ValueError, KeyError, TypeError):
            raise BadResponse(f"{method}: not a Subsonic JSON response", server=self.name) from None
        if body.get("status") != "ok":
            error = body.get("error") or {}
            code, message = error.get("code"), error.get("message", "unknown error")
            if code in (40, 41, 50):
                raise AuthError(f"{method}: {message} (code {code})", server=self.name)
            raise ServerError(f"{method}: {message} (code {code})", server=self.name)
        return dict(body)

    def _ping(self) -> None:
        """Learn the API version without credentials, then check them with the right auth.

        A ping without credentials fails, but its envelope carries the server's version:
        the password is never sent in a form the server does not need.
        """
        try:
            response = self._client.get(f"{self._base}/rest/ping", params={"v": "1.16.1", "c": CLIENT, "f": "json"})
            envelope = response.json().get("subsonic-response") or {}
        except (httpx.TransportError, httpx.TimeoutException):
            raise ServerUnreachable(f"ping: cannot reach {self._base}", server=self.name) from None
        except (ValueError, AttributeError):
            raise BadResponse("ping: not a Subsonic JSON response", server=self.name) from None
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
        start, seen = 0, _Seen()
        while True:
            body = self._get("search3", query="", **{**zero, count: self._page, offset: start})
            items = (body.get("searchResult3") or {}).get(key) or []
            # Only an empty page ends the listing: a server may cap the count below what was
            # asked, and stopping at a short page would then drop the rest (and mark it gone).
            if not seen.fresh(items):
                return
            yield from items
            start += len(items)

    def _album_list(self) -> Iterator[dict[str, Any]]:
        """Every album, 500 a page (``getAlbumList2`` exists since API 1.8 and caps size at 500)."""
        size, offset, seen = min(self._page, 500), 0, _Seen()
        while True:
            albums = (self._get("getAlbumList2", type="alphabeticalByName", size=size, offset=offset)
                      .get("albumList2") or {}).get("album") or []  # fmt: skip
            if not seen.fresh(albums):
                return
            yield from albums
            offset += len(albums)

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
            else:
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
        native = raw.get("id")
        if native in (None, ""):
            raise BadResponse(f"a {kind} without id", server=self.name, item=str(raw.get("name") or raw.get("title")))
        native = str(native)
        created = _when(raw.get("created"))
        if kind == "artist":
            return ServerArtist(native, str(raw.get("name") or ""), sort_name=raw.get("sortName") or None,
                                mbid=raw.get("musicBrainzId") or None, added_at=created)  # fmt: skip
        if kind == "album":
            return ServerAlbum(native, str(raw.get("name") or raw.get("title") or ""),
                               artist_id=str(raw["artistId"]) if raw.get("artistId") else None,
                               artist_name=raw.get("artist"), year=_int(raw.get("year")),
                               mbid=raw.get("musicBrainzId") or None, added_at=created)  # fmt: skip
        duration = _int(raw.get("duration"))
        isrc = raw.get("isrc")
        return ServerTrack(
            native, str(raw.get("title") or ""), album_id=str(raw["albumId"]) if raw.get("albumId") else None,
            artist_id=str(raw["artistId"]) if raw.get("artistId") else None, artist_name=raw.get("artist"),
            album_title=raw.get("album"), track_number=_int(raw.get("track")), disc_number=_int(raw.get("discNumber")),
            duration_ms=duration * 1000 if duration else None, year=_int(raw.get("year")),
            mbid=raw.get("musicBrainzId") or None, isrc=(isrc[0] if isinstance(isrc, list) and isrc else None),
            path=raw.get("path"), added_at=created,
        )  # fmt: skip

    def iter_artists(self) -> Iterator[ServerArtist]:
        return only((self._item("artist", raw) for raw in self._raw("artist")), ServerArtist)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        return only((self._item("album", raw) for raw in self._raw("album")), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        return only((self._item("track", raw) for raw in self._raw("track")), ServerTrack)

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
        full = [self._get("getAlbum", id=a["id"]).get("album") or a for a in albums]
        artist_ids = dict.fromkeys(str(a["artistId"]) for a in full if a.get("artistId"))
        for artist_id in artist_ids:
            artist = self._get("getArtist", id=artist_id).get("artist") or {}
            if artist:
                yield self._item("artist", artist)
        for album in full:
            yield self._item("album", album)
        for album in full:
            for song in album.get("song") or []:
                yield self._item("track", song)

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        for raw in self._raw(kind):
            if raw.get("id") not in (None, ""):
                yield str(raw["id"])

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        raise Unsupported("the Subsonic API has no image upload", server=self.name)

    def close(self) -> None:
        self._client.close()
