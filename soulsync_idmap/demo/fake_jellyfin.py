"""A fake Jellyfin or Emby server on 127.0.0.1 that serves snapshot library files.

    with FakeJellyfin("library.jsonl", token="secret") as fake:
        ... JellyfinServer(ServerConfig("home", "jellyfin", fake.url, token="secret")) ...
        fake.native_id("track", "t1")   # the id the adapter must link

Routes, auth checks, paging, Field gating and JSON shapes follow the real responses in
the shared fixtures. Jellyfin accepts ``Authorization: MediaBrowser Token="..."`` and
``?ApiKey=``; the legacy forms (``X-Emby-Token``, ``api_key``, ``X-Emby-Authorization``)
only with ``legacy_auth=True``, as on Jellyfin 12. Emby accepts all of them, serves
numeric ids, the ``/emby`` prefix, no ``/UserViews``, and pages without ``StartIndex``.
Besides the fault injection of ``LoopbackServer`` it can lie: ``lie_total`` inflates
TotalRecordCount, ``repeat_items`` starts every later page that many items early, and
``ignore_start_index`` always serves the first page. It can serve bad items too:
``duplicates`` lists those native ids twice (counted twice in the total, as a server with
a broken index does), and ``tamper`` rewrites every listed item's DTO (an empty Name, no
Id, NUL characters, absurd numbers...).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..servers.base import parse_datetime
from .covers import cover_svg, item_title
from .jellyfin_library import GATED_FIELDS, Entry, Flavor, JellyfinLibrary, LibrarySpec, make_id
from .loopback import LoopbackServer, Request, Response
from .websocket import WebSocketHub, is_upgrade

__all__ = ["FakeJellyfin", "LibrarySpec"]

_SORTS = frozenset(
    "sortname name album albumartist artist datecreated datelastcontentadded premieredate productionyear "
    "indexnumber parentindexnumber runtime playcount dateplayed random".split()
)
_AUTH_PAIR = re.compile(r'(\w+)\s*=\s*"?([^",]*)"?')


@dataclass(frozen=True)
class Session:
    user: str | None  # None: an API key (no user, full access)
    admin: bool


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _text(status: int, message: str = "") -> Response:
    return Response(status, message.encode(), "text/plain; charset=utf-8")


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.param(name)
    return default if value is None else value.lower() == "true"


class FakeJellyfin(LoopbackServer):
    """Serve ``library`` (a snapshot file) as the music library ``library_name``."""

    def __init__(
        self,
        library: str | os.PathLike[str],
        *,
        token: str | None = "fake-api-key",
        user: tuple[str, str] | None = None,
        user_admin: bool = True,
        flavor: Flavor = "jellyfin",
        server_id: str = "6f1c5e0a9b2d4c7e8a3f1b2c3d4e5f60",
        library_name: str = "Music",
        extra_libraries: tuple[LibrarySpec, ...] = (),
        legacy_auth: bool = False,
        recording_ids: bool = True,
        lie_total: int = 0,
        repeat_items: int = 0,
        ignore_start_index: bool = False,
        duplicates: frozenset[str] = frozenset(),
        tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.flavor: Flavor = flavor
        self.server_id = server_id
        self.api_key = token
        self.user = user
        self.user_admin = user_admin
        self.user_id = make_id(flavor, "user", user[0]) if user else None
        self.legacy_auth = legacy_auth or flavor == "emby"
        self.lie_total = lie_total
        self.repeat_items = repeat_items
        self.ignore_start_index = ignore_start_index
        self.duplicates = duplicates
        self.tamper = tamper
        self.library = JellyfinLibrary(
            flavor, server_id, [LibrarySpec(library_name, library), *extra_libraries], recording_ids=recording_ids
        )
        self.sessions: dict[str, Session] = {}
        self.images: dict[str, tuple[str, bytes]] = {}
        self._state = threading.Lock()
        self._sorted: dict[tuple[Any, ...], list[Entry]] = {}

    # -- test helpers ------------------------------------------------------------------
    def native_id(self, kind: str, snapshot_id: str) -> str:
        """The id this server gives the snapshot item ``snapshot_id`` of ``kind``."""
        return self.library.native_id(kind, snapshot_id)

    def library_id(self, name: str = "Music") -> str:
        return make_id(self.flavor, "library", name)

    def reload(self) -> None:
        """Re-read the snapshot files (after a test changed them)."""
        with self._state:
            self.library.load()
            self._sorted.clear()

    def paged_requests(self) -> list[Request]:
        return [r for r in self.requests if r.param("StartIndex") is not None]

    # -- auth --------------------------------------------------------------------------
    def _token_of(self, request: Request) -> str | None:
        header_names = ["authorization"] + (["x-emby-authorization"] if self.legacy_auth else [])
        for header in header_names:
            value = request.header(header)
            if not value:
                continue
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "mediabrowser" or (self.legacy_auth and scheme.lower() == "emby"):
                pairs = {k.lower(): unquote(v) for k, v in _AUTH_PAIR.findall(rest)}
                if pairs.get("token"):
                    return pairs["token"]
        if request.param("ApiKey"):
            return request.param("ApiKey")
        if self.legacy_auth:
            return request.header("x-emby-token") or request.header("x-mediabrowser-token") or request.param("api_key")
        return None

    def _session(self, request: Request) -> Session | None:
        token = self._token_of(request)
        if token is None:
            return None
        if self.api_key is not None and secrets.compare_digest(token, self.api_key):
            return Session(None, True)
        with self._state:
            return self.sessions.get(token)

    def _login(self, request: Request) -> Response:
        ident = request.header("authorization") or request.header("x-emby-authorization") or ""
        pairs = {k.lower() for k, _ in _AUTH_PAIR.findall(ident)}
        if not {"client", "deviceid"} <= pairs:
            return _text(400, "Client and DeviceId are required in the authorization header")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _text(400, "invalid JSON")
        if self.user is None or body.get("Username") != self.user[0] or body.get("Pw") != self.user[1]:
            return _text(401, "Invalid username or password entered.")
        token = secrets.token_hex(16)
        with self._state:
            self.sessions[token] = Session(self.user_id, self.user_admin)
        account = self._user_dto()
        return _json({"User": account, "SessionInfo": {"UserId": self.user_id, "UserName": self.user[0],
                      "ServerId": self.server_id, "Client": "x", "IsActive": True}, "AccessToken": token,
                      "ServerId": self.server_id})  # fmt: skip

    def _user_dto(self) -> dict[str, Any]:
        assert self.user is not None
        return {"Name": self.user[0], "ServerId": self.server_id, "Id": self.user_id, "HasPassword": True,
                "Policy": {"IsAdministrator": self.user_admin, "IsDisabled": False}}  # fmt: skip

    # -- routing -----------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if self.flavor == "emby" and path.lower().startswith("/emby/"):
            path = path[5:]
        parts = [p for p in path.split("/") if p]
        lower = [p.lower() for p in parts]
        if lower in (["system", "info", "public"], ["system", "ping"]):
            return self._public_info() if lower[1] == "info" else _text(200, "Jellyfin Server")
        if lower == ["users", "authenticatebyname"] and request.method == "POST":
            return self._login(request)
        session = self._session(request)
        if session is None:
            return _text(401)
        return self._route(request, session, parts, lower)

    def _route(self, request: Request, session: Session, parts: list[str], lower: list[str]) -> Response:
        if lower[:1] == ["users"] and len(parts) >= 3 and lower[1] != "me":
            if parts[1] != self.user_id:  # /Users/{uid}/...: the legacy per-user routes
                return _text(404, "User not found")
            if session.user not in (None, parts[1]) and not session.admin:
                return _text(403)
            request = _with_param(request, "userId", parts[1])
            parts, lower = parts[2:], lower[2:]
            if lower == ["views"]:
                return self._views(request, session)
        method = request.method
        if method == "GET" and lower == ["system", "info"]:
            return self._public_info()
        if method == "GET" and lower == ["users", "me"]:
            return self._user_dto_response(session)
        if method == "GET" and lower == ["library", "mediafolders"]:
            return self._views(request, session) if session.admin else _text(403)
        if method == "GET" and lower == ["userviews"] and self.flavor == "jellyfin":
            return self._views(request, session)
        if method == "GET" and lower == ["items"]:
            return self._items(request)
        if method == "GET" and lower in (["artists"], ["artists", "albumartists"]):
            return self._artists(request, album_artists_only=len(lower) == 2)
        if method == "GET" and len(lower) == 2 and lower[0] == "items":
            entry = self.library.by_id.get(_normal_id(parts[1], self.flavor))
            return _json(self.library.dto(entry, set(GATED_FIELDS))) if entry else _text(404, "Item not found")
        if method == "GET" and len(lower) == 4 and lower[0] == "items" and lower[2:] == ["images", "primary"]:
            return self._image(_normal_id(parts[1], self.flavor))
        if method == "POST" and len(lower) == 4 and lower[0] == "items" and lower[2:] == ["images", "primary"]:
            return self._upload(request, session, _normal_id(parts[1], self.flavor))
        return _text(404)

    def _public_info(self) -> Response:
        product = "Emby Server" if self.flavor == "emby" else "Jellyfin Server"
        version = "4.8.10.0" if self.flavor == "emby" else "10.11.0"
        return _json({"LocalAddress": self.url, "ServerName": "fake", "Version": version, "ProductName": product,
                      "OperatingSystem": "Linux", "Id": self.server_id, "StartupWizardCompleted": True})  # fmt: skip

    def _user_dto_response(self, session: Session) -> Response:
        if session.user is None:
            return _text(400, "API keys have no user")
        return _json(self._user_dto())

    def _views(self, request: Request, session: Session) -> Response:
        if session.user is None and request.param("userId") is None and "mediafolders" not in request.path.lower():
            return _text(400, "userId is required")
        views = []
        for folder_id, spec in self.library.folders.items():
            views.append({"Name": spec.name, "ServerId": self.server_id, "Id": folder_id, "IsFolder": True,
                          "Type": "CollectionFolder", "CollectionType": spec.collection_type,
                          "LocationType": "FileSystem"})  # fmt: skip
        return self._page(request, views, len(views))

    # -- listings ----------------------------------------------------------------------
    def _items(self, request: Request) -> Response:
        kinds = {_KIND_OF[t.lower()] for t in _split(request.param("IncludeItemTypes")) if t.lower() in _KIND_OF}
        if not _split(request.param("IncludeItemTypes")):
            kinds = {"artist", "album", "track"}
        parent = request.param("ParentId")
        ids = [_normal_id(i, self.flavor) for i in _split(request.param("Ids"))]
        if ids:
            chosen = [
                self.library.by_id[i] for i in ids if i in self.library.by_id and self.library.by_id[i].kind in kinds
            ]
            return self._listing(request, chosen)
        recursive = _flag(request, "Recursive", False)
        key = ("items", frozenset(kinds), parent, recursive)
        return self._listing(request, None, key)

    def _artists(self, request: Request, *, album_artists_only: bool) -> Response:
        # /Artists takes no MinDateLastSaved (the real server ignores it too).
        key = ("artists", album_artists_only, request.param("ParentId"))
        return self._listing(request, None, key, date_filter=False)

    def _listing(self, request: Request, chosen: list[Entry] | None, key: tuple[Any, ...] = (),
                 *, date_filter: bool = True) -> Response:  # fmt: skip
        sort_by = [s.lower() for s in _split(request.param("SortBy"))]
        if any(s not in _SORTS for s in sort_by):
            return _text(400, f"invalid SortBy {request.param('SortBy')!r}")
        orders = [o.lower() == "descending" for o in _split(request.param("SortOrder"))]
        if chosen is None:
            chosen = self._sorted_entries(key, tuple(sort_by), tuple(orders))
        since = request.param("MinDateLastSaved") if date_filter else None
        if since:
            try:
                floor = parse_datetime(since)
            except ValueError:
                return _text(400, "invalid MinDateLastSaved")
            chosen = [e for e in chosen if e.saved >= floor]
        fields = _fields(request.param("Fields"))
        images, user_data = _flag(request, "EnableImages", True), _flag(request, "EnableUserData", True)
        has_user = request.param("userId") is not None or self._session(request) != Session(None, True)

        def render(entry: Entry) -> dict[str, Any]:
            dto = self.library.dto(entry, fields, images=images, user_data=user_data and has_user)
            return self.tamper(dto) if self.tamper is not None else dto

        return self._page(request, chosen, len(chosen), render)

    def _sorted_entries(self, key: tuple[Any, ...], sort_by: tuple[str, ...], orders: tuple[bool, ...]) -> list[Entry]:
        cache_key = (*key, sort_by, orders)
        with self._state:
            cached = self._sorted.get(cache_key)
        if cached is not None:
            return cached
        if key[0] == "artists":
            found = self.library.artists(key[2], key[1])
        else:
            found = self.library.select(set(key[1]), key[2], key[3])
        found = sorted(found, key=lambda e: (e.sort_name, e.native_id))  # the servers' default order
        for index in reversed(range(len(sort_by))):
            descending = orders[min(index, len(orders) - 1)] if orders else False
            found.sort(key=_SORT_KEYS.get(sort_by[index], _SORT_KEYS["sortname"]), reverse=descending)
        if self.duplicates:
            found = [twin for e in found for twin in ([e, e] if e.native_id in self.duplicates else [e])]
        with self._state:
            self._sorted[cache_key] = found
        return found

    def _page(self, request: Request, chosen: list[Any], total: int, render: Any = None) -> Response:
        try:
            start = max(0, int(request.param("StartIndex") or 0))
            limit_text = request.param("Limit")
            limit = int(limit_text) if limit_text else None
        except ValueError:
            return _text(400, "StartIndex and Limit must be whole numbers")
        if self.ignore_start_index:
            start = 0
        elif start and self.repeat_items:
            start = max(0, start - self.repeat_items)
        window = chosen[start : start + limit if limit is not None else None]
        body: dict[str, Any] = {"Items": [render(e) for e in window] if render else window}
        body["TotalRecordCount"] = total + self.lie_total
        if self.flavor == "jellyfin":
            body["StartIndex"] = int(request.param("StartIndex") or 0)
        return _json(body)

    def empty(self, request: Request, response: Response) -> Response:
        """The page with no items and the same TotalRecordCount (a server that lost its place)."""
        try:
            body = json.loads(response.body)
        except ValueError:
            return response
        if isinstance(body, dict) and "Items" in body:
            body["Items"] = []
        return _json(body, response.status)

    def _image(self, native: str) -> Response:
        """The Primary image: an uploaded one, or a cover drawn from the album's name."""
        entry = self.library.by_id.get(native)
        if entry is None:
            return _text(404, "Item not found")
        with self._state:
            uploaded = self.images.get(native)
        if uploaded is not None:
            return Response(200, uploaded[1], uploaded[0])
        return Response(200, cover_svg(item_title(entry.item)), "image/svg+xml")

    # -- writes ------------------------------------------------------------------------
    def _upload(self, request: Request, session: Session, native: str) -> Response:
        if not session.admin:
            return _text(403)
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            return _text(400, "Incorrect ContentType.")
        if native not in self.library.by_id:
            return _text(404, "Item not found")
        try:
            data = base64.b64decode(request.body, validate=True)
        except (binascii.Error, ValueError):
            return _text(400, "The body is not base64")
        with self._state:
            self.images[native] = (content_type, data)
        return Response(204, b"", "text/plain")


_KIND_OF = {"musicartist": "artist", "musicalbum": "album", "audio": "track"}
_GATED = {name.lower(): name for name in GATED_FIELDS}
_SORT_KEYS: dict[str, Any] = {
    "sortname": lambda e: e.sort_name,
    "name": lambda e: getattr(e.item, "name", None) or getattr(e.item, "title", ""),
    "datecreated": lambda e: e.created,
    "productionyear": lambda e: getattr(e.item, "year", None) or 0,
    "indexnumber": lambda e: getattr(e.item, "track_number", None) or 0,
    "parentindexnumber": lambda e: getattr(e.item, "disc_number", None) or 0,
    "runtime": lambda e: e.ticks,
}


class NotifyingJellyfin(FakeJellyfin):
    """``FakeJellyfin`` with the server's websocket (``/socket``; Emby's ``/embywebsocket``).

    A client is greeted with ``ForceKeepAlive`` as by the real server (its KeepAlive
    messages are kept in ``socket_hub.received``); ``library_changed`` pushes a ``LibraryChanged`` message with the
    ItemsAdded / ItemsUpdated / ItemsRemoved lists of native ids.
    """

    @functools.cached_property
    def socket_hub(self) -> WebSocketHub:
        return WebSocketHub(greeting=_message("ForceKeepAlive", 60))

    def websocket_hub(self, request: Request) -> WebSocketHub | None:
        path = request.path.lower().removeprefix("/emby")
        if path not in ("/socket", "/embywebsocket") or not is_upgrade(request):
            return None
        token = self._token_of(request) or request.param("api_key")
        allowed = token is not None and (
            (self.api_key is not None and secrets.compare_digest(token, self.api_key)) or token in self.sessions
        )
        return self.socket_hub if allowed else None

    def library_changed(
        self, added: Sequence[str] = (), updated: Sequence[str] = (), removed: Sequence[str] = ()
    ) -> int:
        """Push one ``LibraryChanged`` message; returns the clients reached."""
        data = {
            "CollectionFolders": [], "FoldersAddedTo": [], "FoldersRemovedFrom": [], "ItemsAdded": list(added),
            "ItemsRemoved": list(removed), "ItemsUpdated": list(updated),
            "IsEmpty": not (added or updated or removed),
        }  # fmt: skip
        return self.socket_hub.broadcast(_message("LibraryChanged", data))

    def stop(self) -> None:
        self.socket_hub.close_all()
        super().stop()


def _message(kind: str, data: Any) -> str:
    return json.dumps({"MessageType": kind, "Data": data, "MessageId": uuid.uuid4().hex})


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _fields(value: str | None) -> set[str]:
    return {_GATED[f.lower()] for f in _split(value) if f.lower() in _GATED}


def _normal_id(value: str, flavor: Flavor) -> str:
    """Jellyfin accepts ids with or without dashes, in any case."""
    return value if flavor == "emby" else value.replace("-", "").lower()


def _with_param(request: Request, name: str, value: str) -> Request:
    return Request(request.method, request.path, {**request.query, name: value}, request.headers, request.body,
                   request.raw_path)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m soulsync_idmap.demo.fake_jellyfin LIBRARY.jsonl``: serve until Ctrl-C."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Serve a snapshot file as a fake Jellyfin or Emby on 127.0.0.1.")
    parser.add_argument("library")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="fake-api-key")
    parser.add_argument("--flavor", choices=["jellyfin", "emby"], default="jellyfin")
    args = parser.parse_args(argv)
    with FakeJellyfin(args.library, token=args.token, flavor=args.flavor, port=args.port) as fake:
        print(f"{args.flavor} on {fake.url} (token {args.token}); Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
