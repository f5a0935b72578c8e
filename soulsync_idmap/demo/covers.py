"""Album covers for the fake servers: a coloured square with the album's initials, as SVG."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

__all__ = ["cover_svg", "item_title"]


def cover_svg(title: str) -> bytes:
    """A stable cover for ``title`` (its hue from a hash, up to two initials)."""
    hue = int(hashlib.sha1(title.encode()).hexdigest()[:4], 16) % 360
    initials = "".join(word[0] for word in title.split()[:2] if word[:1].isalnum()).upper() or "?"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200">'
        f'<rect width="200" height="200" fill="hsl({hue},45%,42%)"/>'
        f'<circle cx="150" cy="50" r="70" fill="hsl({(hue + 40) % 360},55%,60%)" opacity="0.5"/>'
        f'<text x="20" y="180" font-family="sans-serif" font-size="72" font-weight="700" fill="#fff">'
        f"{escape(initials)}</text></svg>"
    ).encode()


def item_title(item: object) -> str:
    """An album's or a track's title, an artist's name."""
    return str(getattr(item, "title", None) or getattr(item, "name", None) or "")
