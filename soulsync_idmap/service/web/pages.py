"""What every page shares: the login check, CSRF, rendering with autoescape, flash messages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ...errors import ConfigError, IdmapError, NotFound, ReviewError
from ..service import Service
from .session import COOKIE, Session, SessionSigner
from .views import CountCache, duration

__all__ = ["Web"]

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FLASH = "idmap_flash"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def safe_next(target: str | None, default: str = "/") -> str:
    """A path on this site only: no scheme, no host, no ``//`` (an open redirect otherwise)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class Web:
    """The pages' shared state: the service, the session signer, the templates, a client for covers."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.signer = SessionSigner(service.key)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
            lstrip_blocks=True,
        )  # fmt: skip
        self.env.filters.update(when=_when, mss=duration, q=lambda v: quote(str(v), safe=""))
        self.covers = httpx.Client(timeout=5.0, follow_redirects=False)
        self.counts = CountCache()

    # -- sessions ------------------------------------------------------------------------
    def session(self, request: Request) -> Session | None:
        return self.signer.read(request.cookies.get(COOKIE))

    def login_redirect(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return secure(RedirectResponse(f"/login?next={quote(target, safe='')}", 303))

    async def form(self, request: Request) -> tuple[Session | None, dict[str, str], Response | None]:
        """(session, form fields, refusal): a POST needs a session and its CSRF token."""
        session = self.session(request)
        if session is None:
            return None, {}, self.refuse(request, 401, "Your session has ended: log in again.")
        try:
            raw = await request.form()
        except Exception:  # a body that is not a form
            return session, {}, self.refuse(request, 400, "The request is not a form.")
        fields = {k: v for k, v in raw.items() if isinstance(v, str)}
        if not self.signer.csrf_ok(session, fields.get("csrf")):
            return session, fields, self.refuse(request, 403, "The form's security token is missing or wrong: "
                                                              "reload the page and try again.")  # fmt: skip
        return session, fields, None

    def refuse(self, request: Request, status: int, message: str) -> Response:
        return self.render(request, "message.html", None, status=status, title="Refused", message=message)

    # -- rendering -----------------------------------------------------------------------
    def render(self, request: Request, name: str, session: Session | None, status: int = 200,
               **context: Any) -> Response:  # fmt: skip
        flash = unquote(request.cookies.get(FLASH) or "") or None
        html = self.env.get_template(name).render(
            request=request, csrf=session.csrf if session else None, flash=flash, path=request.url.path, **context
        )  # fmt: skip
        response = secure(HTMLResponse(html, status))
        if FLASH in request.cookies:
            response.delete_cookie(FLASH, path="/")
        return response

    def back(self, target: str, message: str | None = None) -> Response:
        """303 to ``target`` (a path here), with a one-time message."""
        response = secure(RedirectResponse(safe_next(target), 303))
        if message:
            response.set_cookie(FLASH, quote(message[:400]), httponly=True, samesite="strict", path="/")
        return response

    async def act(self, request: Request, work: Callable[[dict[str, str]], str | tuple[str, str]],
                  back: str) -> Response:  # fmt: skip
        """Run a POST action: check session and CSRF, run ``work(fields)`` in a thread.

        ``work`` returns a message (back to ``back``) or (message, where to go). A
        ``ReviewError``/``NotFound``/``ConfigError`` becomes the message.
        """
        _session, fields, refused = await self.form(request)
        if refused is not None:
            return refused
        try:
            done = await run_in_threadpool(work, fields)
        except (ReviewError, NotFound, ConfigError) as exc:
            return self.back(safe_next(fields.get("back"), back), f"error: {exc}")
        except IdmapError as exc:
            return self.back(safe_next(fields.get("back"), back), f"error: {exc}")
        message, target = done if isinstance(done, tuple) else (done, safe_next(fields.get("back"), back))
        return self.back(target, message)

    def page(self, request: Request, build: Callable[[Session], Awaitable[Response]]) -> Awaitable[Response]:
        session = self.session(request)
        if session is None:

            async def out() -> Response:
                return self.login_redirect(request)

            return out()
        return build(session)


def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
