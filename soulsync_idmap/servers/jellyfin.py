"""Jellyfin and Emby (kinds ``jellyfin`` and ``emby``) over their REST API, with httpx.

Both servers speak the same dialect: QueryResult pages of PascalCase BaseItemDto with nulls
omitted. Differences handled here: Emby ids are numeric strings, Emby pages carry no
``StartIndex``, and Emby takes the token as ``X-Emby-Token`` while current Jellyfin only
accepts ``Authorization: MediaBrowser ..., Token="..."`` (the legacy headers may be off).

Requests: the music libraries once (``/Library/MediaFolders`` with an API key, the user's
views with a user login), then ``/Artists`` (album artists and track-only artists),
``/Items?IncludeItemTypes=MusicAlbum|Audio&Recursive=true&ParentId=<library>`` paged with
StartIndex/Limit, asking only for the Fields we read. Errors never carry the token.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .. import __version__
from ..errors import (
    AuthError,
    BadResponse,
    ConfigError,
    IncompleteListing,
    NotFound,
    ServerUnreachable,
    Unsupported,
    excerpt,
    scrub,
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
    clean_text,
    only,
)
from .http_log import httpx_hooks
from .intake import Intake, Listing
from .jellyfin_items import TYPES, Raw, is_type, items_of, native_id, to_album, to_artist, to_track, wire_date
from .retry import HTTPX_RETRYABLE, RetryPolicy, retry_after_seconds

__all__ = ["DEFAULT_PAGE_SIZE", "ID_PAGE_SIZE", "JellyfinServer"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CLIENT = "soulsync-idmap"
DEFAULT_PAGE_SIZE = 1000
ID_PAGE_SIZE = 10_000  # ids-only pages are small per item, so fewer, larger requests
EMPTY_PAGE_TRIES = 3  # asks of an empty page before the claimed total, before the listing fails
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_FIELDS: dict[str, str] = {
    "artist": "ProviderIds,SortName,DateCreated",
    "album": "ProviderIds,SortName,DateCreated",
    "track": "ProviderIds,Path,DateCreated,ParentId",
}
_LEAN = {"EnableImages": "false", "EnableUserData": "false"}
FETCH_IDS = 100  # ids per /Items?Ids= request
# Stable paging: new items sort last, so a library scan during a listing shifts nothing.
_STABLE_SORT = {"SortBy": "DateCreated,SortName", "SortOrder": "Ascending"}


class _Retry(Exception):
    """One failed try that may succeed when repeated."""

    def __init__(self, failure: str, retry_after: float | None = None) -> None:
        super().__init__(failure)
        self.failure = failure
        self.retry_after = retry_after


class JellyfinServer(MediaServer):
    """One Jellyfin or Emby server behind the ``MediaServer`` protocol.

    ``retry`` shapes the retries of connection errors, 5xx, 429 and cut or unreadable
    bodies (servers/retry.py); by default they go on for ``config.retry_seconds``.
    """

    def __init__(self, config: ServerConfig, *, client: httpx.Client | None = None,
                 retry: RetryPolicy | None = None) -> None:  # fmt: skip
        if config.kind not in ("jellyfin", "emby"):
            raise ConfigError(f"{config.name}: JellyfinServer cannot serve kind {config.kind!r}")
        if not config.token and not config.user:
            raise ConfigError(f"{config.name}: a {config.kind} server needs --token or --user and --password")
        self.name = config.name
        self.kind = config.kind
        self.skipped: list[Skipped] = []
        self._intake = Intake(config.name, self.skipped)
        self._config = config
        self._base = config.url.rstrip("/")
        self._page_size = max(1, config.page_size or DEFAULT_PAGE_SIZE)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=config.timeout, verify=config.verify_tls, follow_redirects=True, event_hooks=httpx_hooks()
        )
        self._retry = retry or RetryPolicy(total=config.retry_seconds)
        self._token: str | None = config.token or None
        self._user_id: str | None = None
        self._libraries: list[tuple[str, str]] | None = None
        self._instance: str | None = None
        # One stable device per configured server, so password logins do not pile up sessions.
        self._device_id = hashlib.sha1(f"{CLIENT}:{config.name}".encode()).hexdigest()[:20]

    @property
    def repaired(self) -> dict[str, int]:
        """Items stored with a repair so far, by reason (see servers/intake.py)."""
        return dict(self._intake.repaired)

    # -- transport ---------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        ident = f'Client="{CLIENT}", Device="{CLIENT}", DeviceId="{self._device_id}", Version="{__version__}"'
        headers = {"Accept": "application/json"}
        if self.kind == "emby":
            headers["X-Emby-Authorization"] = f"MediaBrowser {ident}"
            if self._token:
                headers["X-Emby-Token"] = self._token
        else:
            token = f', Token="{quote(self._token, safe="")}"' if self._token else ""
            headers["Authorization"] = f"MediaBrowser {ident}{token}"
        return headers

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._token, self._config.token, self._config.password)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets())

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                 content: bytes | None = None, headers: dict[str, str] | None = None, login: bool = True,
                 allow: tuple[int, ...] = ()) -> httpx.Response:  # fmt: skip
        """Send with retries over a bounded time; 401/403 become ``AuthError`` unless in ``allow``."""
        return self._retrying(f"{method} {path}", lambda relog: self._send(
            method, path, params=params, json=json, content=content, headers=headers, login=login, allow=allow,
            relog=relog))  # fmt: skip

    def _retrying(self, what: str, attempt: Callable[[list[bool]], T]) -> T:
        """Run ``attempt`` until it stops raising ``_Retry`` or the retry time is up."""
        retrying = self._retry.begin(self.name, what)
        relog = [False]  # a password session may expire once per request: log in again, once
        while True:
            try:
                return attempt(relog)
            except _Retry as failed:
                retrying.wait(failed.failure, failed.retry_after)

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None, json: Any, content: bytes | None,
              headers: dict[str, str] | None, login: bool, allow: tuple[int, ...],
              relog: list[bool]) -> httpx.Response:  # fmt: skip
        if login and self._token is None:
            self._login()
        try:
            sent = {**self._headers(), **(headers or {})}
            response = self._client.request(
                method, self._base + path, params=params, json=json, content=content, headers=sent
            )
        except HTTPX_RETRYABLE as exc:  # refused, reset, timed out, cut off mid-body
            raise _Retry(self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))) from None
        except httpx.HTTPError as exc:  # no later try can succeed (a URL without a scheme...)
            failure = self._scrub(f"{type(exc).__name__}: {exc}")
            raise ServerUnreachable(f"{method} {path}: {failure}", server=self.name) from None
        status = response.status_code
        if status in allow:
            return response
        if status == 401 and login and self._config.user and not self._config.token and not relog[0]:
            relog[0] = True
            self._token = None
            self._login()
            raise _Retry("session expired", retry_after=0.0)
        if status in (401, 403):
            raise AuthError(f"{method} {path} was refused (HTTP {status}); check the token or user", server=self.name)
        if status in _RETRY_STATUSES:
            raise _Retry(f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After")))
        return response

    def _get_json(self, path: str, params: dict[str, Any] | None = None, *, login: bool = True) -> Raw:
        """GET and decode; a cut or unreadable JSON body is retried like a failed connection."""

        def attempt(relog: list[bool]) -> Raw:
            response = self._send("GET", path, params=params, json=None, content=None, headers=None, login=login,
                                  allow=(), relog=relog)  # fmt: skip
            return self._json(response, f"GET {path}", retry=True)

        return self._retrying(f"GET {path}", attempt)

    def _json(self, response: httpx.Response, what: str, *, retry: bool = False) -> Raw:
        if response.status_code != 200:
            body = excerpt(response.text, self._secrets())
            raise BadResponse(f"{what} answered HTTP {response.status_code}: {body}", server=self.name)
        try:
            data = response.json()
        except ValueError:
            if retry and response.text.lstrip()[:1] in ("{", "["):
                raise _Retry("a cut or unreadable JSON body") from None
            raise BadResponse(f"{what} answered with something that is not JSON", server=self.name) from None
        if not isinstance(data, dict):
            raise BadResponse(f"{what} answered JSON that is not an object", server=self.name)
        return data

    def _login(self) -> None:
        user = self._config.user
        if not user:
            raise AuthError("no token and no user to log in with", server=self.name)
        body = {"Username": user, "Pw": self._config.password or ""}
        try:
            response = self._request("POST", "/Users/AuthenticateByName", json=body, login=False)
        except AuthError:
            raise AuthError(f"user {user!r} was refused: wrong user name or password", server=self.name) from None
        data = self._json(response, "POST /Users/AuthenticateByName")
        token, account = data.get("AccessToken"), data.get("User")
        user_id = account.get("Id") if isinstance(account, dict) else None
        if not isinstance(token, str) or not token or not isinstance(user_id, str | int):
            raise BadResponse("login answer lacks AccessToken or User.Id", server=self.name)
        self._token, self._user_id = token, str(user_id)

    # -- identity and libraries --------------------------------------------------------
    def instance_id(self) -> str:
        if self._instance is None:
            data = self._get_json("/System/Info/Public", login=False)
            server_id = data.get("Id")
            if not isinstance(server_id, str) or not server_id:
                raise BadResponse("/System/Info/Public has no server Id", server=self.name)
            self._instance = server_id
        return self._instance

    def _views(self) -> list[Raw]:
        if self._token is None:
            self._login()
        if self._user_id is None:
            # An API key has no user and so no views; it may read every library (admin).
            response = self._request("GET", "/Library/MediaFolders", allow=(403,))
            if response.status_code != 403:
                return items_of(self._json(response, "GET /Library/MediaFolders"), "/Library/MediaFolders", self.name)
            me = self._get_json("/Users/Me")  # a non-admin user token: list that user's views
            if not isinstance(me.get("Id"), str | int):
                raise BadResponse("/Users/Me has no Id", server=self.name)
            self._user_id = str(me["Id"])
        response = self._request("GET", "/UserViews", params={"userId": self._user_id}, allow=(404,))
        path = "/UserViews"
        if response.status_code == 404:  # Emby and Jellyfin before 10.9 know only the legacy route
            path = f"/Users/{self._user_id}/Views"
            response = self._request("GET", path)
        return items_of(self._json(response, f"GET {path}"), path, self.name)

    def _music_libraries(self) -> list[tuple[str, str]]:
        """(id, name) of the music libraries to read: the one named by ``library``, or all."""
        if self._libraries is None:
            music = [(native_id(v), str(v.get("Name") or "")) for v in self._views()
                     if str(v.get("CollectionType") or "").lower() == "music" and native_id(v)]  # fmt: skip
            wanted = self._config.library
            if wanted:
                chosen = [m for m in music if m[1] == wanted] or [
                    m for m in music if m[1].casefold() == wanted.casefold()
                ]
                if not chosen:
                    found = ", ".join(repr(m[1]) for m in music) or "none"
                    raise ConfigError(f"{self.name}: no music library named {wanted!r} (music libraries: {found})")
                music = chosen
            elif not music:
                raise ConfigError(f"{self.name}: the server has no music library visible to this account")
            self._libraries = music
        return self._libraries

    # -- paging ------------------------------------------------------------------------
    def _pages(self, path: str, params: dict[str, Any], limit: int) -> Iterator[list[Raw]]:
        """Every item of a listing, page by page, or ``IncompleteListing``.

        Items added while paging shift the window: the first items of a page then repeat
        the last of the page before. Those repeats are dropped, and the next page starts
        after the new items only, so a shifted window is read again, never skipped. A
        duplicate pair across a page boundary looks the same, so repeats the claimed total
        did not grow by are kept aside: when the listing ends with fewer items than it
        claimed, that many of them were duplicates the server listed and go to the
        ``Intake``, which reports them. Other repeated ids are reported the same way. A
        page of nothing but repeats before the end means the server ignores StartIndex,
        which would never end. An empty page before the claimed total is asked again, then
        fails the listing.
        """
        start, read = 0, 0
        previous: set[str] = set()
        before: int | None = None  # the total the page before claimed
        unexplained: list[Raw] = []  # repeats the total's growth does not account for
        total: int | None = None
        while True:
            data, items = self._page(path, params, start, limit)
            claimed = data.get("TotalRecordCount")
            total = claimed if isinstance(claimed, int) and not isinstance(claimed, bool) else None
            overlap = next((i for i, raw in enumerate(items) if native_id(raw) not in previous), len(items))
            if items and overlap == len(items):
                if total is not None and start + len(items) >= total and unexplained:
                    break  # the window shifted by a duplicate: this last page was read already
                raise BadResponse(f"GET {path} sent the same items again at StartIndex={start}", server=self.name)
            if overlap:
                log.info("%s: %s shifted by %d items while paging", self.name, path, overlap)
                grown = total - before if total is not None and before is not None else overlap
                unexplained.extend(items[max(grown, 0) : overlap])
            yield items[overlap:]
            read += len(items) - overlap
            start += len(items) - overlap
            if not items or ((start >= total) if total is not None else (len(items) < limit)):
                break
            previous = {native_id(raw) for raw in items}
            before = total
        if total is not None and read < total and unexplained:
            yield unexplained[: total - read]

    def _page(self, path: str, params: dict[str, Any], start: int, limit: int) -> tuple[Raw, list[Raw]]:
        """One page; an empty one before the claimed total is asked again, then raises."""
        retrying = self._retry.begin(self.name, f"GET {path}")
        for ask in range(1, EMPTY_PAGE_TRIES + 1):
            data = self._get_json(path, {**params, "StartIndex": start, "Limit": limit})
            items = items_of(data, path, self.name)
            claimed = data.get("TotalRecordCount")
            if items or not isinstance(claimed, int) or isinstance(claimed, bool) or start >= claimed:
                return data, items
            if ask < EMPTY_PAGE_TRIES:
                try:
                    retrying.wait(f"an empty page at StartIndex={start} of {claimed}")
                except ServerUnreachable:
                    break
        raise IncompleteListing(
            f"GET {path} listed {start} of the {claimed} items it claims (an empty page at StartIndex={start}, "
            f"asked {ask} times)",
            server=self.name,
        )

    def total(self, kind: EntityKind) -> int | None:
        """``TotalRecordCount`` of an empty page (Limit=0), summed over the music libraries (an
        artist in two libraries counts twice: a total for progress, not a count)."""
        found = 0
        for library, _name in self._music_libraries():
            path, params = self._listing(kind, library, fields=False)
            claimed = self._get_json(path, {**params, "StartIndex": 0, "Limit": 0}).get("TotalRecordCount")
            if not isinstance(claimed, int) or isinstance(claimed, bool):
                return None
            found += claimed
        return found

    def count(self, kind: EntityKind) -> int | None:
        """``TotalRecordCount`` with one music library; None with several (an artist shared
        between libraries would be counted twice)."""
        return self.total(kind) if len(self._music_libraries()) == 1 else None

    def _listing(self, kind: EntityKind, library: str, *, fields: bool = True) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"ParentId": library, **_LEAN}
        if fields:
            params["Fields"] = _FIELDS[kind]
        if kind == "artist":  # /Artists lists track-only artists too; /Items cannot reach them
            return "/Artists", {**params, "SortBy": "SortName", "SortOrder": "Ascending"}
        return "/Items", {**params, "IncludeItemTypes": TYPES[kind], "Recursive": "true", **_STABLE_SORT}

    def _raw_items(self, kind: EntityKind, extra: dict[str, Any] | None = None, *, fields: bool = True,
                   sort: dict[str, str] | None = None) -> Iterator[Raw]:  # fmt: skip
        """Every item of ``kind`` in the music libraries. Artists are shared between libraries:
        one already listed by an earlier library is not listed again (albums and tracks are not)."""
        earlier: set[str] = set()
        libraries = self._music_libraries()
        for library, _name in libraries:
            path, params = self._listing(kind, library, fields=fields)
            this: set[str] = set()
            for page in self._pages(path, {**params, **(sort or {}), **(extra or {})}, self._page_size
                                    if fields else max(self._page_size, ID_PAGE_SIZE)):  # fmt: skip
                for raw in page:
                    if not is_type(raw, kind):
                        continue
                    if kind == "artist" and len(libraries) > 1:
                        native = native_id(raw)
                        if native in earlier:
                            continue
                        this.add(native)
                    yield raw
            earlier |= this

    def _items(self, kind: EntityKind, extra: dict[str, Any] | None = None) -> Iterator[ServerItem]:
        listing = Listing()
        convert = _CONVERT[kind]
        for raw in self._raw_items(kind, extra):
            item = self._intake.accept(convert(raw), listing)
            if item is not None:
                yield item

    # -- MediaServer -------------------------------------------------------------------
    def iter_artists(self) -> Iterator[ServerArtist]:
        return only(self._items("artist"), ServerArtist)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        return only(self._items("album"), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        return only(self._items("track"), ServerTrack)

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        """New artists (newest first until older than ``watermark``), then albums and tracks
        saved at or after it (``MinDateLastSaved``, which /Artists does not take)."""
        since = watermark.replace(tzinfo=UTC) if watermark.tzinfo is None else watermark.astimezone(UTC)
        yield from self._new_artists(since)
        changed = {"MinDateLastSaved": wire_date(since)}
        yield from self._items("album", changed)
        yield from self._items("track", changed)

    def _new_artists(self, since: datetime) -> Iterator[ServerArtist]:
        listing = Listing()
        for library, _name in self._music_libraries():
            earlier = set(listing.ids)  # artists shared with a library listed before are listed once
            path, params = self._listing("artist", library)
            params.update(SortBy="DateCreated,SortName", SortOrder="Descending")
            for raw in (raw for page in self._pages(path, params, self._page_size) for raw in page):
                artist = to_artist(raw)
                if artist.added_at is not None and artist.added_at < since:
                    break  # newest first: the rest is older (closing the pages: no further requests)
                if artist.native_id in earlier or not is_type(raw, "artist"):
                    continue
                accepted = self._intake.accept(artist, listing)
                if isinstance(accepted, ServerArtist):
                    yield accepted

    def fetch(self, kind: EntityKind, native_ids: Sequence[str]) -> Iterator[ServerItem]:
        """``/Items?Ids=...``, a hundred ids a request (URLs stay short)."""
        for start in range(0, len(native_ids), FETCH_IDS):
            chunk = native_ids[start : start + FETCH_IDS]
            data = self._get_json("/Items", {**_LEAN, "Fields": _FIELDS[kind], "Ids": ",".join(chunk)})
            for raw in items_of(data, "/Items", self.name):
                if is_type(raw, kind) and (item := self._intake.accept(_CONVERT[kind](raw))) is not None:
                    yield item

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        """Every id of ``kind``, once each; items without an id are reported by the listings."""
        seen: set[str] = set()
        for raw in self._raw_items(kind, fields=False):
            native = clean_text(native_id(raw)).strip()
            if native and native not in seen:
                seen.add(native)
                yield native

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        """Upload the Primary image (admin only); the body is the base64 text of the bytes."""
        if not content_type.lower().startswith("image/"):
            raise Unsupported(f"cannot upload {content_type!r} as an image", server=self.name)
        path = f"/Items/{quote(native_id, safe='')}/Images/Primary"
        response = self._request("POST", path, content=base64.b64encode(data),
                                 headers={"Content-Type": content_type}, allow=(404,))  # fmt: skip
        if response.status_code == 404:
            raise NotFound(f"{self.name}: no item {native_id}")
        if response.status_code not in (200, 204):
            raise BadResponse(f"POST {path} answered HTTP {response.status_code}", server=self.name, item=native_id)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


_CONVERT: dict[str, Callable[[Raw], ServerItem]] = {"artist": to_artist, "album": to_album, "track": to_track}
