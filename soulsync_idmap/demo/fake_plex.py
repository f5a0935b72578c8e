"""A fake Plex Media Server on 127.0.0.1 serving a snapshot library as Plex XML.

Shapes follow real PMS captures (StreamMusic, see ``tests/fixtures/SOURCES.md``): ``MediaContainer``
with ``size``/``totalSize``/``offset``, artists and albums as ``Directory``, tracks as
``Track`` with ``<Media><Part file=.../></Media>`` nested (as a real server does) and
``<Guid id="mbid://..."/>`` children. It answers the routes plexapi calls: ``/``,
``/library``, ``/library/sections``, ``/library/sections/{id}/all`` (``type=8|9|10``,
the X-Plex-Container-Start/Size headers or query parameters, ``{type}.updatedAt>>=`` and
``addedAt>>=`` filters, ``sort``, ``includeMeta=1``), ``/collections``, ``/library/metadata/{rk}``
with any query, its ``/children`` and ``/allLeaves``, and poster uploads. The token is
checked on every request (``X-Plex-Token`` header or query parameter). ``tamper`` rewrites
the attributes of every item it renders (an empty title, no ratingKey, absurd numbers...),
and the ``empty`` fault answers a listing page with no items and the same ``totalSize``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from xml.sax.saxutils import quoteattr

from ..servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack
from ..servers.snapshot import read_snapshot
from .covers import cover_svg, item_title
from .loopback import LoopbackServer, Request, Response
from .websocket import WebSocketHub, is_upgrade

__all__ = ["FakePlex"]

TYPES = {"8": "artist", "9": "album", "10": "track"}
XML = "text/xml;charset=utf-8"
_FILTER = re.compile(r"^(?:(artist|album|track)\.)?(updatedAt|addedAt)(>>=|>>|<<=|<<)$")


@dataclass
class _Entry:
    key: int
    item: ServerItem
    parent: int | None = None
    grandparent: int | None = None
    children: list[int] = field(default_factory=list)


def _guid(kind: str, *names: str | None) -> str:
    """Plex's metadata id: the agent's, from what the item is, not from its ratingKey (a re-key keeps it)."""
    what = "\x1f".join((kind, *(n or "" for n in names)))
    return f"plex://{kind}/{hashlib.sha1(what.encode()).hexdigest()[:24]}"


def _epoch(value: Any) -> int:
    return int(value.timestamp()) if value is not None else 1_600_000_000


class FakePlex(LoopbackServer):
    """Serve ``library`` (a snapshot file) as the music section ``section_title``."""

    def __init__(
        self,
        library: str | os.PathLike[str],
        *,
        token: str = "fake-plex-token",
        machine_identifier: str = "0f5c2bd2e1a04c7f9b6d3e8a1c2b4d6f8a0e2c4b",
        section_title: str = "Music",
        section_id: int = 3,
        tamper: Callable[[dict[str, str | None]], dict[str, str | None]] | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.token = token
        self.machine_identifier = machine_identifier
        self.section_title = section_title
        self.section_id = section_id
        self.library = str(library)
        self.posters: dict[str, bytes] = {}
        self.tamper = tamper
        self._state = threading.Lock()
        self.reload()

    # -- test helpers ------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)read the snapshot; ratingKeys are stable per (kind, snapshot id). Like PMS's
        ``contentChangedAt``, the section's change counter moves when the library does: here
        with every reload, and with the file itself (a fake started again on a changed file)."""
        stat = os.stat(self.library)
        moved = int(hashlib.sha1(f"{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:7], 16)
        self.content_changed = max(getattr(self, "content_changed", 0) + 1, 116_000_000 + moved)
        entries: dict[str, dict[str, _Entry]] = {"artist": {}, "album": {}, "track": {}}
        for item in read_snapshot(self.library):
            entries[item.kind][item.native_id] = _Entry(self.rating_key(item.kind, item.native_id), item)
        for entry in entries["album"].values():
            assert isinstance(entry.item, ServerAlbum)
            artist = entries["artist"].get(entry.item.artist_id or "")
            entry.parent = artist.key if artist else None
        for entry in entries["track"].values():
            assert isinstance(entry.item, ServerTrack)
            album = entries["album"].get(entry.item.album_id or "")
            entry.parent = album.key if album else None
            entry.grandparent = album.parent if album else None
            if album:
                album.children.append(entry.key)
        with self._state:
            self._entries = entries
            self._by_key = {e.key: e for kind in entries.values() for e in kind.values()}
            self._order: dict[tuple[str, str], list[_Entry]] = {}

    @staticmethod
    def rating_key(kind: str, snapshot_id: str) -> int:
        """The ratingKey this fake gives a snapshot item (stable across restarts)."""
        digest = hashlib.sha1(f"{kind}:{snapshot_id}".encode()).hexdigest()
        return 1000 + int(digest[:13], 16)  # 52 bits: no two items of a million-item library share one

    # -- HTTP --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if (request.header("x-plex-token") or request.param("X-Plex-Token")) != self.token:
            return Response(401, b"<html><body><h1>401 Unauthorized</h1></body></html>", "text/html")
        path = request.path.rstrip("/") or "/"
        if path == "/":
            return self._xml(
                f'<MediaContainer size="1" friendlyName="fake-plex" machineIdentifier="{self.machine_identifier}" '
                f'version="1.41.3.9314" myPlexUsername="" platform="Linux">'
                f'<Directory count="1" key="library" title="library" /></MediaContainer>'
            )
        if path == "/library":
            return self._xml(
                '<MediaContainer size="2" allowSync="0" title1="Plex Library">'
                '<Directory key="sections" title="Library Sections" />'
                '<Directory key="recentlyAdded" title="Recently Added Content" /></MediaContainer>'
            )
        if path == "/library/sections":
            return self._xml(
                f'<MediaContainer size="1" allowSync="0" title1="Plex Library">'
                f'<Directory allowSync="1" art="/:/resources/artist-fanart.jpg" composite="/library/sections/'
                f'{self.section_id}/composite/1" filters="1" refreshing="0" thumb="/:/resources/artist.png" '
                f'key="{self.section_id}" type="artist" title={quoteattr(self.section_title)} '
                f'agent="tv.plex.agents.music" scanner="Plex Music" language="en-US" '
                f'uuid="a5b1c7e2-7d0f-4b9b-9f4e-2c3d4e5f6a7b" updatedAt="1700000000" createdAt="1600000000" '
                f'contentChangedAt="{self.content_changed}" '
                f'content="1" directory="1" hidden="0">'
                f'<Location id="1" path="/music" /></Directory></MediaContainer>'
            )
        section = f"/library/sections/{self.section_id}/"
        if path.startswith(section):
            rest = path[len(section) :]
            if rest in ("all", "collections") and request.param("includeMeta") == "1":
                return self._meta() if rest == "all" else self._xml('<MediaContainer size="0" totalSize="0"/>')
            if rest == "all":
                return self._listing(request)
            if rest == "collections":
                return self._xml('<MediaContainer size="0" totalSize="0" offset="0"/>')
            return Response(404, b"", XML)
        match = re.fullmatch(r"/library/metadata/(\d+)(?:/(children|allLeaves|posters|thumb))?", path)
        if match:
            return self._metadata(request, int(match.group(1)), match.group(2))
        match = re.fullmatch(r"/library/metadata/(\d+(?:,\d+)+)", path)  # several items at once
        if match:
            return self._several(int(key) for key in match.group(1).split(","))
        return Response(404, b"<html><body>404 Not Found</body></html>", "text/html")

    def empty(self, request: Request, response: Response) -> Response:
        """The listing page with no items, ``totalSize`` unchanged."""
        text = response.body.decode("utf-8")
        head = re.search(r"<MediaContainer[^>]*>", text)
        if head is None:
            return response
        container = re.sub(r'\bsize="\d+"', 'size="0"', head.group(0))
        return self._xml(f"{container}</MediaContainer>")

    def _xml(self, body: str) -> Response:
        return Response(200, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8"), XML)

    def _meta(self) -> Response:
        types = []
        for number, kind in (("8", "artist"), ("9", "album"), ("10", "track")):
            fields = "".join(
                f'<Field key="{kind}.{name}" title="{title}" type="date" />'
                for name, title in (("addedAt", "Date Added"), ("updatedAt", "Date Updated"))
            )
            sorts = (
                f'<Sort default="asc" key="titleSort" title="Title" /><Sort key="{kind}.addedAt" title="Date Added" />'
            )
            types.append(
                f'<Type key="/library/sections/{self.section_id}/all?type={number}" type="{kind}" '
                f'title="{kind.title()}s" active="0">{fields}{sorts}</Type>'
            )
        field_types = (
            '<FieldType type="date"><Operator key="&gt;&gt;=" title="is after" />'
            '<Operator key="&lt;&lt;=" title="is before" /></FieldType>'
        )
        return self._xml(
            f'<MediaContainer size="0" totalSize="0"><Meta>{"".join(types)}{field_types}</Meta></MediaContainer>'
        )

    def _selected(self, request: Request) -> list[_Entry]:
        kind = TYPES.get(request.param("type") or "8", "artist")
        sort = request.param("sort") or ""
        chosen = self._sorted(kind, sort)
        for name, value in request.query.items():
            match = _FILTER.match(name)
            if not match or (match.group(1) and match.group(1) != kind):
                continue
            attr = "updated_at" if match.group(2) == "updatedAt" else "added_at"
            bound = int(value)
            if match.group(3).startswith(">>"):
                chosen = [e for e in chosen if _stamp(e, attr) >= bound]
            else:
                chosen = [e for e in chosen if _stamp(e, attr) <= bound]
        return chosen

    def _sorted(self, kind: str, sort: str) -> list[_Entry]:
        """Every item of ``kind`` in ``sort`` order, worked out once per listing (pages reuse it)."""
        with self._state:
            cached = self._order.get((kind, sort))
            if cached is not None:
                return cached
            chosen = list(self._entries[kind].values())
        if "addedAt" in sort or "updatedAt" in sort:
            attr = "added_at" if "addedAt" in sort else "updated_at"
            chosen.sort(key=lambda e: _epoch(getattr(e.item, attr)), reverse=sort.endswith(":desc"))
        else:
            chosen.sort(key=lambda e: e.key)
        with self._state:
            self._order[(kind, sort)] = chosen
        return chosen

    def _listing(self, request: Request) -> Response:
        chosen = self._selected(request)
        start = int(request.header("x-plex-container-start") or request.param("X-Plex-Container-Start") or 0)
        size_text = request.header("x-plex-container-size") or request.param("X-Plex-Container-Size")
        size = int(size_text) if size_text is not None else len(chosen)
        page = chosen[start : start + size]
        body = "".join(self._render(e) for e in page)
        return self._xml(
            f'<MediaContainer size="{len(page)}" totalSize="{len(chosen)}" offset="{start}" allowSync="1" '
            f'librarySectionID="{self.section_id}" librarySectionTitle={quoteattr(self.section_title)}>'
            f"{body}</MediaContainer>"
        )

    def _metadata(self, request: Request, key: int, sub: str | None) -> Response:
        with self._state:
            entry = self._by_key.get(key)
            if entry is None:
                return Response(404, b"", XML)
            if sub == "thumb":  # the current cover (an uploaded poster, or one drawn from the title)
                poster = self.posters.get(str(key))
                if poster is not None:
                    return Response(200, poster, "image/jpeg")
                return Response(200, cover_svg(item_title(entry.item)), "image/svg+xml")
            if sub == "posters":
                if request.method != "POST":
                    return self._xml('<MediaContainer size="0"/>')
                self.posters[str(key)] = request.body
                return Response(200, b"", XML)
            if sub is None:
                items = [entry]
            elif sub == "children":
                if entry.item.kind == "artist":
                    items = [e for e in self._entries["album"].values() if e.parent == key]
                else:
                    items = [self._by_key[k] for k in entry.children]
            else:
                items = [e for e in self._entries["track"].values() if key in (e.parent, e.grandparent)]
        body = "".join(self._render(e) for e in items)
        return self._xml(f'<MediaContainer size="{len(items)}" totalSize="{len(items)}">{body}</MediaContainer>')

    def _several(self, keys: Iterable[int]) -> Response:
        with self._state:
            items = [self._by_key[key] for key in keys if key in self._by_key]
        body = "".join(self._render(e) for e in items)
        return self._xml(f'<MediaContainer size="{len(items)}" totalSize="{len(items)}">{body}</MediaContainer>')

    def _name(self, key: int | None) -> str | None:
        entry = self._by_key.get(key) if key is not None else None
        if entry is None:
            return None
        return entry.item.name if isinstance(entry.item, ServerArtist) else getattr(entry.item, "title", None)

    def _guid(self, entry: _Entry) -> str:
        item = entry.item
        if isinstance(item, ServerArtist):
            return _guid("artist", item.name)
        if isinstance(item, ServerAlbum):
            return _guid("album", item.title, self._name(entry.parent))
        assert isinstance(item, ServerTrack)
        numbers = (str(item.disc_number), str(item.track_number))
        return _guid("track", item.title, self._name(entry.parent), self._name(entry.grandparent), *numbers)

    def _render(self, entry: _Entry) -> str:
        item = entry.item
        common: dict[str, str | None] = {
            "ratingKey": str(entry.key),
            "guid": item.guid or self._guid(entry),
            "addedAt": str(_epoch(item.added_at)),
            "updatedAt": str(_epoch(item.updated_at or item.added_at)),
        }
        guids = f'<Guid id="mbid://{item.mbid}" />' if item.mbid else ""
        attrs: dict[str, str | None]
        part: dict[str, str | None]
        if isinstance(item, ServerArtist):
            attrs = {
                **common,
                "key": f"/library/metadata/{entry.key}/children",
                "type": "artist",
                "title": item.name,
                "titleSort": item.sort_name or item.name,
                "index": "1",
            }
            return f"<Directory {_attrs(self._tampered(attrs))}>{guids}</Directory>"
        if isinstance(item, ServerAlbum):
            attrs = {
                **common,
                "key": f"/library/metadata/{entry.key}/children",
                "type": "album",
                "title": item.title,
                "parentRatingKey": _str(entry.parent),
                "parentKey": _meta_key(entry.parent),
                "parentTitle": self._name(entry.parent),
                "year": _str(item.year),
                "leafCount": str(len(entry.children)),
                "index": "1",
            }
            return f"<Directory {_attrs(self._tampered(attrs))}>{guids}</Directory>"
        assert isinstance(item, ServerTrack)
        album_artist = self._name(entry.grandparent)
        track_artist = item.artist_name or self._track_artist(item)
        attrs = {
            **common,
            "key": f"/library/metadata/{entry.key}",
            "type": "track",
            "title": item.title,
            "parentRatingKey": _str(entry.parent),
            "parentKey": _meta_key(entry.parent),
            "grandparentRatingKey": _str(entry.grandparent),
            "grandparentKey": _meta_key(entry.grandparent),
            "parentTitle": self._name(entry.parent),
            "grandparentTitle": album_artist,
            "originalTitle": track_artist if track_artist and track_artist != album_artist else None,
            "index": _str(item.track_number),
            "parentIndex": _str(item.disc_number),
            "duration": _str(item.duration_ms),
            "parentYear": _str(item.year),
        }
        media = ""
        if item.path:
            part = {
                "id": str(entry.key),
                "key": f"/library/parts/{entry.key}/file.flac",
                "file": item.path,
                "duration": _str(item.duration_ms),
                "container": "flac",
                "size": "1",
            }
            media = (
                f'<Media id="{entry.key}" duration="{item.duration_ms or 0}" audioChannels="2" audioCodec="flac" '
                f'container="flac"><Part {_attrs(part)} /></Media>'
            )
        return f"<Track {_attrs(self._tampered(attrs))}>{media}{guids}</Track>"

    def _tampered(self, attrs: dict[str, str | None]) -> dict[str, str | None]:
        return self.tamper(attrs) if self.tamper is not None else attrs

    def _track_artist(self, item: ServerTrack) -> str | None:
        with_id = self._entries["artist"].get(item.artist_id or "")
        return with_id.item.name if with_id and isinstance(with_id.item, ServerArtist) else None


class NotifyingPlex(FakePlex):
    """``FakePlex`` with Plex's notification websocket (``/:/websockets/notifications``).

    ``announce`` pushes a timeline entry shaped like the real server's during a library
    scan: ``state`` 5 when an item was processed, 9 when it was deleted (plexapi's
    ``AlertListener`` reads these).
    """

    TYPES: ClassVar[dict[str, int]] = {"artist": 8, "album": 9, "track": 10}

    @functools.cached_property
    def notifications(self) -> WebSocketHub:
        return WebSocketHub()

    def websocket_hub(self, request: Request) -> WebSocketHub | None:
        token = request.header("x-plex-token") or request.param("X-Plex-Token")
        if request.path == "/:/websockets/notifications" and is_upgrade(request) and token == self.token:
            return self.notifications
        return None

    def timeline(self, kind: str, snapshot_id: str, state: int = 5, title: str = "") -> dict[str, Any]:
        """One ``TimelineEntry`` for the item ``snapshot_id`` of ``kind``."""
        return {
            "identifier": "com.plexapp.plugins.library", "sectionID": str(self.section_id),
            "itemID": str(self.rating_key(kind, snapshot_id)), "type": self.TYPES[kind], "title": title,
            "state": state, "metadataState": "created" if state == 0 else None, "updatedAt": int(time.time()),
        }  # fmt: skip

    def announce(self, entries: list[dict[str, Any]]) -> int:
        """Push one ``timeline`` notification with ``entries``; returns the clients reached."""
        message = {"NotificationContainer": {"type": "timeline", "size": len(entries), "TimelineEntry": entries}}
        return self.notifications.broadcast(json.dumps(message))

    def stop(self) -> None:
        self.notifications.close_all()
        super().stop()


def _stamp(entry: _Entry, attr: str) -> int:
    item = entry.item
    return _epoch(getattr(item, attr) or (item.added_at if attr == "updated_at" else None))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _meta_key(key: int | None) -> str | None:
    return None if key is None else f"/library/metadata/{key}"


def _attrs(values: Mapping[str, str | None]) -> str:
    """XML attributes; None values left out, as a real server does."""
    return " ".join(f"{k}={quoteattr(v)}" for k, v in values.items() if v is not None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a snapshot file as a fake Plex server on 127.0.0.1.")
    parser.add_argument("library")
    parser.add_argument("--token", default="fake-plex-token")
    parser.add_argument("--port", type=int, default=32400)
    args = parser.parse_args(argv)
    with FakePlex(args.library, token=args.token, port=args.port) as server:
        print(f"fake Plex on {server.url} (token {args.token}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
