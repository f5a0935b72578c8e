"""The one exception hierarchy of soulsync-idmap.

    IdmapError
    ├── ConfigError          bad configuration, unknown server name, bad option value
    ├── SnapshotError        a snapshot file that is missing or malformed (names the line)
    ├── StoreError           the mapping database cannot be opened, migrated or written
    │   └── SyncLocked       another sync of the same database is running
    ├── SyncFailed           one or more servers of a sync failed (each server's error is on its result)
    ├── SyncInterrupted      a sync stopped on purpose between two batches (a service stopping)
    ├── NotFound             an unknown UUID or native id asked for by a user
    ├── ReviewError          a review or merge/split decision that cannot be applied
    └── ServerError          anything a media server did wrong (carries the server name)
        ├── ServerUnreachable    connection refused, DNS, timeouts, repeated 5xx/429
        ├── AuthError            401/403 or bad credentials
        ├── BadResponse          malformed payload, missing required fields (names the item)
        │   └── IncompleteListing    a listing ended before the total the server claimed
        └── Unsupported          the server cannot do what was asked (e.g. image upload)

The CLI turns every IdmapError into a one-line message and exit code 1. ``scrub`` and
``excerpt`` take secrets out of any text before it is cut, logged or stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = [
    "AuthError",
    "BadResponse",
    "ConfigError",
    "IdmapError",
    "IncompleteListing",
    "NotFound",
    "ReviewError",
    "ServerError",
    "ServerUnreachable",
    "SnapshotError",
    "StoreError",
    "SyncFailed",
    "SyncInterrupted",
    "SyncLocked",
    "Unsupported",
    "excerpt",
    "scrub",
]

HIDDEN = "***"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (as sent: plain, URL-quoted, hex-encoded) replaced by ``***``."""
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= 3:
            forms.update({secret, quote(secret, safe=""), quote_plus(secret), secret.encode().hex()})
    for form in sorted(forms, key=len, reverse=True):  # the longest first: a form may contain another
        text = text.replace(form, HIDDEN)
    return text


def excerpt(text: str, secrets: Iterable[str | None], limit: int = 200) -> str:
    """A one-line excerpt of a server's answer for an error: scrubbed first, then cut."""
    return " ".join(scrub(text, secrets).split())[:limit]


class IdmapError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(IdmapError):
    """The configuration or a command's arguments are wrong."""


class SnapshotError(IdmapError):
    """A snapshot (JSON Lines) file is missing or malformed."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.reason = message
        self.path = path
        self.line = line


class StoreError(IdmapError):
    """The mapping database cannot be opened, migrated or written."""


class SyncLocked(StoreError):
    """Another sync holds the lock on this database."""


class SyncFailed(IdmapError):
    """Some servers of ``idmap sync`` failed; the others were synced."""


class SyncInterrupted(IdmapError):
    """A sync stopped on purpose between two batches; its run is recorded as interrupted."""


class NotFound(IdmapError):
    """A UUID or native id that the caller named does not exist."""


class ReviewError(IdmapError):
    """A review decision, merge, split or undo that cannot be applied."""


class ServerError(IdmapError):
    """A media server failed; ``server`` names it (never its token)."""

    def __init__(self, message: str, *, server: str | None = None, item: str | None = None) -> None:
        prefix = f"{server}: " if server else ""
        suffix = f" (item {item})" if item else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.server = server
        self.item = item


class ServerUnreachable(ServerError):
    """The server could not be reached, timed out, or kept failing with 5xx/429."""


class AuthError(ServerError):
    """The server refused the credentials."""


class BadResponse(ServerError):
    """The server answered with something we cannot understand."""


class IncompleteListing(BadResponse):
    """A listing ended (an empty page, even when asked again) before the total the server claimed.

    Nothing of the run may be marked gone: the rest of the library was never seen.
    """


class Unsupported(ServerError):
    """The server kind cannot do what was asked."""
