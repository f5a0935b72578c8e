"""Login, the dashboard, its live progress (server-sent events), Sync now and Make active."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ...mapping.models import Server
from ..keys import key_matches
from .pages import Web, safe_next, secure
from .progress import ProgressWatch
from .session import COOKIE, Session
from .views import last_runs, pending_count, recent_changes

__all__ = ["dashboard_routes"]

TICK = 0.4  # seconds between two looks at the runner for an open event stream
STREAM_LIFETIME = 120.0  # an event stream ends after this; the browser reconnects by itself


def dashboard_routes(web: Web) -> APIRouter:
    router = APIRouter()
    service = web.service

    @router.get("/login")
    async def login_page(request: Request, next: str | None = None) -> Response:
        if web.session(request) is not None:
            return web.back(safe_next(next))
        return web.render(request, "login.html", None, title="Log in", next=safe_next(next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        key, target = form.get("key"), form.get("next")
        target = safe_next(target if isinstance(target, str) else None)
        if not isinstance(key, str) or not key_matches(key.strip(), service.key):
            return web.render(request, "login.html", None, status=401, title="Log in", next=target,
                              error="That is not the API key of this service.")  # fmt: skip
        cookie, _session = web.signer.new()
        response = web.back(target)
        response.set_cookie(
            COOKIE, cookie, max_age=web.signer.lifetime, httponly=True, samesite="strict", path="/",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        _session, _fields, refused = await web.form(request)
        if refused is not None:
            return refused
        response = web.back("/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/")
    async def dashboard(request: Request) -> Response:
        async def build(session: Session) -> Response:
            data = await run_in_threadpool(_overview, web)
            return web.render(request, "dashboard.html", session, title="Dashboard", **data)

        return await web.page(request, build)

    @router.get("/partials/overview")
    async def overview(request: Request) -> Response:
        async def build(session: Session) -> Response:
            data = await run_in_threadpool(_overview, web)
            return web.render(request, "overview.html", session, **data)

        return await web.page(request, build)

    @router.get("/events")
    async def events(request: Request) -> Response:
        if web.session(request) is None:
            return secure(Response("log in first", 401, media_type="text/plain"))
        stream = _events(web, request)
        return secure(StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}))

    @router.post("/sync")
    async def sync(request: Request) -> Response:
        session, fields, refused = await web.form(request)
        if refused is not None or session is None:
            return refused or web.login_redirect(request)
        known = [s.name for s in await run_in_threadpool(web.store.servers)]
        wanted = fields.get("server") or ""
        names = known if wanted == "*" else [wanted] if wanted in known else []
        if not names:
            return web.back("/", f"error: unknown server {wanted!r}" if wanted != "*" else "error: no server to sync")
        full = fields.get("full") == "1"
        if full and fields.get("confirmed") != "1":
            what = "every server" if wanted == "*" else wanted
            return web.render(
                request, "confirm.html", session, title="Full sync?", action="/sync",
                question=f"A full sync of {what} re-reads the whole library; it takes longer than the usual one.",
                fields={"server": wanted, "full": "1", "confirmed": "1"}, button="Run the full sync", cancel="/",
            )  # fmt: skip
        job = service.runner.submit(names, full=full, reason="web")
        return web.back("/", f"{'full ' if full else ''}sync of {', '.join(names)} queued ({job.status})")

    @router.post("/servers/{name}/activate")
    async def activate(request: Request, name: str) -> Response:
        def work(_fields: dict[str, str]) -> str:
            web.store.activate(name)
            return f"{name} is now the active server"

        return await web.act(request, work, "/")

    return router


def _overview(web: Web) -> dict[str, Any]:
    servers: list[Server] = web.store.servers()
    names = {s.id: s.name for s in servers if s.id is not None}
    with web.store.engine.connect() as conn:
        counts = web.counts.get(conn, sorted(names))
        rows = [{"server": s, "counts": counts[s.id]} for s in servers if s.id is not None]
        runs = last_runs(conn, names)
        changes = recent_changes(conn)
        pending = pending_count(conn)
    return {"servers": rows, "runs": runs, "changes": changes, "pending": pending}


def _snapshot(web: Web, watch: ProgressWatch) -> dict[str, Any]:
    jobs = web.service.runner.jobs()
    active = [j for j in jobs if not j.done]
    finished = [j for j in jobs if j.done]
    shown = active + finished[-1:]
    return {"jobs": [watch.job(j) for j in shown], "busy": bool(active)}


async def _events(web: Web, request: Request) -> AsyncIterator[bytes]:
    watch = ProgressWatch(web.store)
    last: str | None = None
    started = beat = time.monotonic()
    yield b"retry: 1000\n\n"
    while time.monotonic() - started < STREAM_LIFETIME:
        if web.service.stopping.is_set() or await request.is_disconnected():
            return
        data = json.dumps(await run_in_threadpool(_snapshot, web, watch), default=str, separators=(",", ":"))
        if data != last:
            last, beat = data, time.monotonic()
            yield f"event: jobs\ndata: {data}\n\n".encode()
        elif time.monotonic() - beat > 15:
            beat = time.monotonic()
            yield b": still here\n\n"
        await asyncio.sleep(TICK)
