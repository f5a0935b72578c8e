"""The web pages' login: the API key once, then a signed session cookie and a CSRF token.

Nothing is stored on the server: the cookie holds an expiry and a random nonce, signed
with a secret derived from the API key, so every ``idmap serve`` process on one database
accepts it and a new key signs everyone out. The CSRF token of a session is another MAC
of its nonce: forms carry it in a hidden field, and a request without it is refused even
with a valid cookie. The cookie is HttpOnly and SameSite=Strict; the key itself is never
written to a page, a cookie or a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

__all__ = ["COOKIE", "Session", "SessionSigner"]

COOKIE = "idmap_session"
LIFETIME = 12 * 3600  # seconds a login lasts


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: int
    csrf: str


class SessionSigner:
    """Makes and checks session cookies and CSRF tokens for one API key."""

    def __init__(self, api_key: str, lifetime: int = LIFETIME) -> None:
        self._secret = hmac.new(api_key.encode(), b"idmap web session v1", hashlib.sha256).digest()
        self.lifetime = lifetime

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def new(self, now: float | None = None) -> tuple[str, Session]:
        """(cookie value, session) of a fresh login."""
        expires = int((time.time() if now is None else now) + self.lifetime)
        nonce = secrets.token_urlsafe(18)
        body = f"{expires}.{nonce}"
        return f"{body}.{self._mac(body)}", self._session(nonce, expires)

    def _session(self, nonce: str, expires: int) -> Session:
        return Session(nonce, expires, self._mac(f"csrf.{nonce}"))

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a valid, unexpired cookie; None otherwise."""
        if not cookie or cookie.count(".") != 2:
            return None
        expires, nonce, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(f"{expires}.{nonce}")) or not expires.isdigit():
            return None
        if int(expires) < (time.time() if now is None else now):
            return None
        return self._session(nonce, int(expires))

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), session.csrf.encode())
