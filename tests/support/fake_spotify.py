"""A fake Spotify Web API on 127.0.0.1: client-credentials token, artist search, artists, images."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from soulsync_idmap.demo.loopback import LoopbackServer, Request, Response

__all__ = ["FakeSpotify", "SpotifyArtist"]


@dataclass(frozen=True)
class SpotifyArtist:
    id: str
    name: str
    popularity: int = 50
    genres: tuple[str, ...] = ()
    image: bytes | None = b"\xff\xd8\xff\xe0 fake jpeg"


@dataclass
class FakeSpotify(LoopbackServer):
    artists: list[SpotifyArtist] = field(default_factory=list)
    client_id: str = "client-id"
    client_secret: str = "client-secret"

    def __post_init__(self) -> None:
        super().__init__()

    def __hash__(self) -> int:
        return id(self)

    @property
    def api(self) -> str:
        return f"{self.url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/token"

    def _artist_json(self, artist: SpotifyArtist) -> dict[str, object]:
        images = [{"url": f"{self.url}/images/{artist.id}.jpg", "height": 640, "width": 640}] if artist.image else []
        return {"id": artist.id, "name": artist.name, "popularity": artist.popularity, "genres": list(artist.genres),
                "images": images, "type": "artist", "uri": f"spotify:artist:{artist.id}"}  # fmt: skip

    def handle(self, request: Request) -> Response:
        if request.path == "/api/token" and request.method == "POST":
            return Response(200, json.dumps({"access_token": "fake-access", "token_type": "Bearer",
                                             "expires_in": 3600}).encode())  # fmt: skip
        if request.path.startswith("/images/"):
            artist_id = request.path.rsplit("/", 1)[-1].removesuffix(".jpg")
            artist = next((a for a in self.artists if a.id == artist_id), None)
            if artist is None or artist.image is None:
                return Response(404, b"")
            return Response(200, artist.image, "image/jpeg")
        if request.header("authorization") != "Bearer fake-access":
            return Response(401, json.dumps({"error": {"status": 401, "message": "No token provided"}}).encode())
        if request.path == "/v1/search":
            query = unquote_plus(request.param("q") or "").lower().replace('artist:"', "").replace('"', "").strip()
            found = [a for a in self.artists if query and (query in a.name.lower() or a.name.lower() in query)]
            limit = int(request.param("limit") or 10)
            body = {"artists": {"items": [self._artist_json(a) for a in found[:limit]], "total": len(found)}}
            return Response(200, json.dumps(body).encode())
        if request.path.startswith("/v1/artists/"):
            artist_id = request.path.rsplit("/", 1)[-1]
            artist = next((a for a in self.artists if a.id == artist_id), None)
            if artist is None:
                return Response(404, json.dumps({"error": {"status": 404, "message": "Not found"}}).encode())
            return Response(200, json.dumps(self._artist_json(artist)).encode())
        return Response(404, b"{}")
