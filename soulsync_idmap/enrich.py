"""Artist images from Spotify, uploaded to the media server, remembered per UUID.

For each artist linked on a server (and not enriched before), find the Spotify artist:
an id already stored on the UUID (e.g. imported from SoulSync) is reused; otherwise a
search whose results are judged by normalised name, with genres and popularity as
tie-breaks. Unsure artists are skipped and listed, never guessed. The chosen artist's
image is uploaded through the server adapter and the Spotify id stored as an external
id of the UUID, so later runs and other servers reuse it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials
from sqlalchemy import insert, select

from .config import Config
from .errors import ConfigError, IdmapError, Unsupported
from .mapping.store import Store, table, utcnow
from .matching import normalize_artist, text_similarity
from .servers import open_server
from .sync.adapters import server_config

__all__ = ["EnrichReport", "SpotifyArtists", "enrich_artist_images"]

log = logging.getLogger(__name__)
NO_UPLOAD = {"snapshot": "snapshot files hold no images", "subsonic": "the Subsonic API has no image upload"}


class SpotifyArtists:
    """Spotify artist lookups with client credentials; 429 answers are waited out (bounded)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_base: str = "https://api.spotify.com/v1/",
        token_url: str = SpotifyClientCredentials.OAUTH_TOKEN_URL,
        session: requests.Session | None = None,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session or requests.Session()
        # Tokens live in memory: spotipy's default writes a .cache file into the working directory.
        auth = SpotifyClientCredentials(
            client_id, client_secret, requests_session=self.session, cache_handler=MemoryCacheHandler()
        )
        auth.OAUTH_TOKEN_URL = token_url  # an instance override: tests point it at loopback
        self.client = spotipy.Spotify(
            auth_manager=auth, requests_session=self.session, retries=0, status_retries=0, requests_timeout=10
        )
        self.client.prefix = api_base
        self.max_wait = max_wait
        self.sleep = sleep

    def _call(self, action: Callable[[], Any]) -> Any:
        for attempt in range(4):
            try:
                return action()
            except spotipy.SpotifyException as exc:
                if exc.http_status != 429 or attempt == 3:
                    raise IdmapError(f"Spotify: {exc.msg or exc.http_status}") from None
                wait = float((exc.headers or {}).get("Retry-After", 1) or 1)
                if wait > self.max_wait:
                    raise IdmapError(f"Spotify asks to wait {wait:.0f} s (rate limit); try again later") from None
                self.sleep(wait)
            except requests.RequestException as exc:
                raise IdmapError(f"Spotify unreachable: {type(exc).__name__}") from None
        raise AssertionError("unreachable")

    def search(self, name: str) -> list[dict[str, Any]]:
        result = self._call(lambda: self.client.search(q=f'artist:"{name}"', type="artist", limit=10))
        return list(result.get("artists", {}).get("items", []))

    def artist(self, artist_id: str) -> dict[str, Any]:
        return dict(self._call(lambda: self.client.artist(artist_id)))

    def image(self, artist: dict[str, Any]) -> tuple[bytes, str] | None:
        images = artist.get("images") or []
        if not images:
            return None
        response = self.session.get(images[0]["url"], timeout=20)
        response.raise_for_status()
        return response.content, response.headers.get("Content-Type", "image/jpeg").split(";")[0]


def choose(
    name: str, candidates: list[dict[str, Any]], genres: set[str] | None = None
) -> tuple[dict[str, Any] | None, str]:
    """The Spotify artist for ``name``, or None with the reason."""
    wanted = normalize_artist(name)
    exact = [c for c in candidates if normalize_artist(c.get("name", "")) == wanted]
    if len(exact) == 1:
        return exact[0], "exact name"
    if len(exact) > 1:
        if genres:
            overlapping = [c for c in exact if genres & set(c.get("genres") or ())]
            if len(overlapping) == 1:
                return overlapping[0], "exact name, genres"
        ranked = sorted(exact, key=lambda c: c.get("popularity", 0), reverse=True)
        if ranked[0].get("popularity", 0) - ranked[1].get("popularity", 0) >= 25:
            return ranked[0], "exact name, far more popular"
        return None, f"{len(exact)} artists named {name!r}"
    close = [c for c in candidates if text_similarity(normalize_artist(c.get("name", "")), wanted) >= 0.9]
    if close:
        return None, f"only similar names ({', '.join(c['name'] for c in close[:3])})"
    return None, "no match"


@dataclass
class EnrichReport:
    uploaded: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    unsure: list[tuple[str, str]] = field(default_factory=list)
    no_image: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _artists(store: Store, server_id: int) -> list[tuple[str, str, str | None, str | None]]:
    """(native id, uuid, name, stored spotify id) of live artists not enriched before."""
    link, external = table("link"), table("external_id")
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(link.c.native_id, link.c.uuid, link.c.name).where(
                link.c.server_id == server_id, link.c.kind == "artist", link.c.gone_at.is_(None)
            ).order_by(link.c.id)
        ).all()  # fmt: skip
        spotify = dict(
            conn.execute(select(external.c.uuid, external.c.value).where(external.c.provider == "spotify")).all()
        )
        done = set(conn.execute(select(external.c.uuid).where(
            external.c.provider == "spotify", external.c.source == "enrich")).scalars())  # fmt: skip
    return [(n, u, name, spotify.get(u)) for n, u, name in rows if u not in done]


def enrich_artist_images(
    store: Store, config: Config, server_name: str, spotify: SpotifyArtists, *, dry_run: bool = False,
    limit: int | None = None,
) -> EnrichReport:  # fmt: skip
    server = store.server(server_name)
    assert server.id is not None
    if server.kind in NO_UPLOAD:
        raise Unsupported(NO_UPLOAD[server.kind], server=server_name)
    adapter = open_server(server_config(server, config.secrets(server_name)))
    report = EnrichReport()
    try:
        for native, uuid, name, known in _artists(store, server.id)[: limit or None]:
            if not name:
                continue
            try:
                chosen: dict[str, Any] | None
                if known:
                    chosen, why = spotify.artist(known), "stored id"
                else:
                    chosen, why = choose(name, spotify.search(name))
                if chosen is None:
                    report.unsure.append((name, why))
                    continue
                if dry_run:
                    report.planned.append(f"{name} -> {chosen['name']} ({chosen['id']}, {why})")
                    continue
                image = spotify.image(chosen)
                if image is None:
                    report.no_image.append(name)
                else:
                    adapter.set_artist_image(native, image[0], image[1])
                    report.uploaded.append(name)
                _remember(store, uuid, chosen["id"], known)
            except (IdmapError, requests.RequestException) as exc:
                if isinstance(exc, Unsupported):
                    raise
                report.failed.append((name, str(exc)))
    finally:
        adapter.close()
    return report


def _remember(store: Store, uuid: str, spotify_id: str, known: str | None) -> None:
    external = table("external_id")
    with store.begin() as conn:
        if known:
            conn.execute(external.update().where(external.c.uuid == uuid, external.c.provider == "spotify")
                         .values(source="enrich"))  # fmt: skip
        else:
            conn.execute(insert(external).values(uuid=uuid, kind="artist", provider="spotify", value=spotify_id,
                                                 source="enrich", created_at=utcnow()))  # fmt: skip


def spotify_from_config(config: Config) -> SpotifyArtists:
    import os

    section = config.section("spotify")
    client_id = os.environ.get("SPOTIPY_CLIENT_ID") or section.get("client_id")
    secret = os.environ.get("SPOTIPY_CLIENT_SECRET") or section.get("client_secret")
    if not client_id or not secret:
        raise ConfigError("Spotify credentials missing: set SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET "
                          "(or 'spotify': {'client_id', 'client_secret'} in the config file)")  # fmt: skip
    extra = {k: section[k] for k in ("api_base", "token_url") if k in section}
    return SpotifyArtists(client_id, secret, **extra)
