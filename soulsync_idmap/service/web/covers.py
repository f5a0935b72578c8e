"""Album covers through the service: the browser asks us, we ask the server with its token.

The token stays in the config file and in this process; the page only ever links to
``/cover/{server}/{native_id}``. Plex serves ``/library/metadata/{ratingKey}/thumb`` (a
redirect to the current thumb, same host), Jellyfin and Emby ``/Items/{id}/Images/Primary``.
Anything else (no cover, a server without covers, an error) gets a neutral placeholder.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import httpx

from ...config import Config
from ...mapping.models import Server

__all__ = ["PLACEHOLDER", "fetch_cover"]

PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" fill="#8884"/>'
    b'<circle cx="50" cy="50" r="28" fill="none" stroke="#8888" stroke-width="6"/>'
    b'<circle cx="50" cy="50" r="5" fill="#8888"/></svg>'
)
MAX_BYTES = 5_000_000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/svg+xml")


def _request(server: Server, config: Config, native_id: str) -> tuple[str, dict[str, str]] | None:
    token = config.secrets(server.name).get("token")
    if not token:
        return None
    base = server.url.rstrip("/")
    if server.kind == "plex":
        return f"{base}/library/metadata/{quote(native_id, safe='')}/thumb", {"X-Plex-Token": token}
    path = f"{base}/Items/{quote(native_id, safe='')}/Images/Primary"
    if server.kind == "emby":
        return path, {"X-Emby-Token": token}
    if server.kind == "jellyfin":  # 10.11 may refuse the legacy headers: the Authorization scheme
        return path, {"Authorization": f'MediaBrowser Client="soulsync-idmap", Token="{quote(token, safe="")}"'}
    return None


def fetch_cover(server: Server, config: Config, native_id: str, client: httpx.Client) -> tuple[bytes, str] | None:
    """(image bytes, content type) of the item's cover, or None when there is none to show."""
    target = _request(server, config, native_id)
    if target is None:
        return None
    url, headers = target
    origin = urlsplit(url)[:2]
    try:
        for _hop in range(3):
            response = client.get(url, headers=headers)
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                if urlsplit(url)[:2] != origin:  # the token never leaves for another host
                    return None
                continue
            break
        else:
            return None
    except httpx.HTTPError:
        return None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code != 200 or content_type not in IMAGE_TYPES or len(response.content) > MAX_BYTES:
        return None
    return response.content, content_type
