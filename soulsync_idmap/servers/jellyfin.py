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
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from .. import __version__
from ..errors import AuthError, BadResponse, ConfigError, NotFound, ServerUnreachable, Unsupported
from .base import EntityKind, ServerAlbum, ServerArtist, ServerConfig, ServerItem, ServerTrack
from .http_log import httpx_hooks
from .jellyfin_items import TYPES, Raw, is_type, items_of, native_id, to_album, to_artist, to_track, wire_date

__all__ = ["DEFAULT_PAGE_SIZE", "ID_PAGE_SIZE", "JellyfinServer"]

log = logging.getLogger(__name__)

CLIENT = "soulsync-idmap"
DEFAULT_PAGE_SIZE = 1000
ID_PAGE_SIZE = 10_000  # ids-only pages are small per item, so fewer, larger requests
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_FIELDS: dict[str, str] = {
    "artist": "ProviderIds,SortName,DateCreated",
    "album": "ProviderIds,SortName,DateCreated",
    "track": "ProviderIds,Path,DateCreated,ParentId",
}
_LEAN = {"EnableImages": "false", "EnableUserData": "false"}
# Stable paging: new items sort last, so a library scan during a listing shifts nothing.
_STABLE_SORT = {"SortBy": "DateCreated,SortName", "SortOrder": "Ascending"}


class JellyfinServer:
    """One Jellyfin or Emby server behind the ``MediaServer`` protocol.

    ``tries``/``backoff``/``sleep`` shape the retries on connection errors, 5xx and 429
    (exponential backoff; ``Retry-After`` honoured up to ``max_retry_after`` seconds).
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        client: httpx.Client | None = None,
        tries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if config.kind not in ("jellyfin", "emby"):
            raise ConfigError(f"{config.name}: JellyfinServer cannot serve kind {config.kind!r}")
        if not config.token and not config.user:
            raise ConfigError(f"{config.name}: a {config.kind} server needs --token or --user and --password")
        self.name = config.name
        self.kind = config.kind
        self._config = config
        self._base = config.url.rstrip("/")
        self._page_size = max(1, config.page_size or DEFAULT_PAGE_SIZE)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=config.timeout, verify=config.verify_tls, follow_redirects=True, event_hooks=httpx_hooks()
        )
        self._tries = max(1, tries)
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._token: str | None = config.token or None
        self._user_id: str | None = None
        self._libraries: list[tuple[str, str]] | None = None
        self._instance: str | None = None
        # One stable device per configured server, so password logins do not pile up sessions.
        self._device_id = hashlib.sha1(f"{CLIENT}:{config.name}".encode()).hexdigest()[:20]

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

    def _scrub(self, text: str) -> str:
        for secret in (self._token, self._config.token, self._config.password):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                 content: bytes | None = None, headers: dict[str, str] | None = None, login: bool = True,
                 allow: tuple[int, ...] = ()) -> httpx.Response:  # fmt: skip
        """Send with bounded retries; 401/403 become ``AuthError`` unless in ``allow``."""
        if login and self._token is None:
            self._login()
        relogged = False
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            try:
                sent = {**self._headers(), **(headers or {})}
                response = self._client.request(
                    method, self._base + path, params=params, json=json, content=content, headers=sent
                )
            except httpx.TransportError as exc:  # refused, reset, timed out, cut off mid-body
                failure = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                status = response.status_code
                if status in allow:
                    return response
                if status == 401 and login and self._config.user and not self._config.token and not relogged:
                    relogged = True  # a password session may have expired: log in again, once
                    self._token = None
                    self._login()
                    continue
                if status in (401, 403):
                    raise AuthError(
                        f"{method} {path} was refused (HTTP {status}); check the token or user", server=self.name
                    )
                if status not in _RETRY_STATUSES:
                    return response
                failure = f"HTTP {status}"
                delay = self._retry_after(response)
            if attempt >= self._tries:
                raise ServerUnreachable(f"{method} {path} failed {attempt} times (last: {failure})", server=self.name)
            wait = delay if delay is not None else self._backoff * 2 ** (attempt - 1)
            log.warning("%s: %s %s failed (%s); retry %d in %.1fs", self.name, method, path, failure, attempt, wait)
            self._sleep(wait)

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return min(max(0.0, float(value)), self._max_retry_after)
        except ValueError:
            return None  # an HTTP date: fall back to our own backoff

    def _get_json(self, path: str, params: dict[str, Any] | None = None, *, login: bool = True) -> Raw:
        response = self._request("GET", path, params=params, login=login)
        return self._json(response, f"GET {path}")

    def _json(self, response: httpx.Response, what: str) -> Raw:
        if response.status_code != 200:
            raise BadResponse(f"{what} answered HTTP {response.status_code}: {self._scrub(response.text[:200])}",
                              server=self.name)  # fmt: skip
        try:
            data = response.json()
        except ValueError:
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
            music = [(native_id(v, self.name), str(v.get("Name") or "")) for v in self._views()
                     if str(v.get("CollectionType") or "").lower() == "music"]  # fmt: skip
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
        """Fresh items page by page; ends on an empty or last page, whatever the total claims.

        Items repeated from the page before (a shifted window) are dropped, and the next
        page starts after the fresh items only: a window shifted back by items added while
        paging is then re-read, never skipped. A page of nothing but repeats means the
        server ignores StartIndex, which would never end.
        """
        start = 0
        previous: set[str] = set()
        while True:
            data = self._get_json(path, {**params, "StartIndex": start, "Limit": limit})
            items = items_of(data, path, self.name)
            page_ids: set[str] = set()
            fresh: list[Raw] = []
            for raw in items:
                native = native_id(raw, self.name)
                if native not in previous and native not in page_ids:
                    fresh.append(raw)
                page_ids.add(native)
            if items and not fresh:
                raise BadResponse(f"GET {path} sent the same items again at StartIndex={start}", server=self.name)
            if fresh:
                yield fresh
            start += len(fresh)
            claimed = data.get("TotalRecordCount")
            total = claimed if isinstance(claimed, int) and not isinstance(claimed, bool) else None
            if not items:
                if total is not None and start < total:
                    log.warning("%s: %s claimed %d items but listed %d", self.name, path, total, start)
                return
            if (start >= total) if total is not None else (len(items) < limit):
                return
            previous = page_ids

    def _listing(self, kind: EntityKind, library: str, *, fields: bool = True) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"ParentId": library, **_LEAN}
        if fields:
            params["Fields"] = _FIELDS[kind]
        if kind == "artist":  # /Artists lists track-only artists too; /Items cannot reach them
            return "/Artists", {**params, "SortBy": "SortName", "SortOrder": "Ascending"}
        return "/Items", {**params, "IncludeItemTypes": TYPES[kind], "Recursive": "true", **_STABLE_SORT}

    def _raw_items(self, kind: EntityKind, extra: dict[str, Any] | None = None) -> Iterator[Raw]:
        seen: set[str] = set()  # artists are shared between libraries; albums and tracks are not
        libraries = self._music_libraries()
        for library, _name in libraries:
            path, params = self._listing(kind, library)
            for page in self._pages(path, {**params, **(extra or {})}, self._page_size):
                for raw in page:
                    if not is_type(raw, kind):
                        continue
                    if kind == "artist" and len(libraries) > 1:
                        native = native_id(raw, self.name)
                        if native in seen:
                            continue
                        seen.add(native)
                    yield raw

    # -- MediaServer -------------------------------------------------------------------
    def iter_artists(self) -> Iterator[ServerArtist]:
        for raw in self._raw_items("artist"):
            yield to_artist(raw, self.name)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        for raw in self._raw_items("album"):
            yield to_album(raw, self.name)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        for raw in self._raw_items("track"):
            yield to_track(raw, self.name)

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        """New artists (newest first until older than ``watermark``), then albums and tracks
        saved at or after it (``MinDateLastSaved``, which /Artists does not take)."""
        since = watermark.replace(tzinfo=UTC) if watermark.tzinfo is None else watermark.astimezone(UTC)
        yield from self._new_artists(since)
        changed = {"MinDateLastSaved": wire_date(since)}
        for raw in self._raw_items("album", changed):
            yield to_album(raw, self.name)
        for raw in self._raw_items("track", changed):
            yield to_track(raw, self.name)

    def _new_artists(self, since: datetime) -> Iterator[ServerArtist]:
        seen: set[str] = set()
        for library, _name in self._music_libraries():
            path, params = self._listing("artist", library)
            params.update(SortBy="DateCreated,SortName", SortOrder="Descending")
            for page in self._pages(path, params, self._page_size):
                older = False
                for raw in page:
                    artist = to_artist(raw, self.name)
                    if artist.added_at is not None and artist.added_at < since:
                        older = True
                        break
                    if artist.native_id not in seen and is_type(raw, "artist"):
                        seen.add(artist.native_id)
                        yield artist
                if older:
                    break  # closing the page generator: no further requests

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        seen: set[str] = set()
        libraries = self._music_libraries()
        for library, _name in libraries:
            path, params = self._listing(kind, library, fields=False)
            for page in self._pages(path, params, max(self._page_size, ID_PAGE_SIZE)):
                for raw in page:
                    native = native_id(raw, self.name)
                    if kind == "artist" and len(libraries) > 1:
                        if native in seen:
                            continue
                        seen.add(native)
                    if is_type(raw, kind):
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
