"""The JSON API (``/api/v1``) of ``idmap serve``, as a FastAPI app.

Point lookups (resolve, lookup, translate) run on the event loop: one indexed query,
quicker than the hop to a worker thread. Everything that may take longer (a batch of
100,000 UUIDs, an entity, the change feed) runs in the thread pool. Errors are always
``{"error": {"code", "message"}}`` with a 4xx status for bad input; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, IdmapError, NotFound, ReviewError, StoreError
from ..mapping import translate
from ..mapping.changes import latest_cursor, next_cursor, read_changes
from ..mapping.export import export_entity
from ..mapping.merge import entity_kind
from ..mapping.store import normalize_uuid, normalize_uuids
from .keys import key_matches
from .service import ApiError, Service
from .web import install_web

__all__ = ["ApiError", "IdmapApp", "create_app"]

log = logging.getLogger(__name__)
MAX_BATCH = 100_000
MAX_WAIT = 60.0
UNAUTHORIZED = "an API key is required (Authorization: Bearer KEY or X-Api-Key)"


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _json(data: Any, status: int = 200) -> Response:
    # json.dumps straight to bytes: no model validation on the hot path.
    return Response(_dumps(data), status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def _uuid(value: str) -> str:
    try:
        return normalize_uuid(value)
    except ConfigError:
        raise ApiError(400, "bad_uuid", f"not a UUID: {value!r}") from None


def create_app(service: Service) -> FastAPI:
    """The app serving ``service``; its lifespan starts and stops the service's threads."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = IdmapApp(title="soulsync-idmap", version=service.version, lifespan=lifespan)
    app.fast_path = ResolveFastPath(service)
    _errors(app)

    async def require_key(request: Request) -> None:
        given = given_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
        if not key_matches(given, service.key):
            raise ApiError(401, "unauthorized", UNAUTHORIZED)

    async def require_query_key(key: str | None = Query(default=None)) -> None:
        if not key_matches(key, service.key):
            raise ApiError(401, "unauthorized", "a valid ?key= is required")

    public = APIRouter(prefix="/api/v1")
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_key)])
    hooks = APIRouter(prefix="/api/v1/hooks", dependencies=[Depends(require_query_key)])

    @public.get("/health")
    async def health() -> Response:
        return _json({"status": "ok", "database": service.database, "version": service.version})

    _translation_routes(api, service)
    _feed_routes(api, service)
    _sync_routes(api, service)
    _hook_routes(hooks, service)
    for router in (public, api, hooks):
        app.include_router(router)
    install_web(app, service)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return _error(400, "bad_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(IdmapError)
    async def idmap_error(_request: Request, exc: IdmapError) -> Response:
        if isinstance(exc, NotFound):
            return _error(404, "not_found", str(exc))
        if isinstance(exc, ReviewError | ConfigError):
            return _error(400, "bad_request", str(exc))
        if isinstance(exc, StoreError):
            return _error(503, "database_unavailable", str(exc))
        return _error(502, "server_error", str(exc))

    @app.exception_handler(Exception)
    async def bug(_request: Request, exc: Exception) -> Response:
        log.error("internal error: %s: %s", type(exc).__name__, exc)
        return _error(500, "internal", "internal error (the service log says more)")


def _translation_routes(api: APIRouter, service: Service) -> None:
    @api.get("/resolve/{uuid}")
    async def resolve(uuid: str, server: str | None = None) -> Response:
        status, body = resolve_answer(service, uuid, server)
        return Response(body, status, media_type="application/json")

    @api.post("/resolve")
    async def resolve_many(request: Request) -> Response:
        body = await _body(request)
        uuids, server = body.get("uuids"), body.get("server")
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise ApiError(400, "bad_request", "'uuids' must be a list of UUID strings")
        if len(uuids) > MAX_BATCH:
            raise ApiError(413, "too_many", f"at most {MAX_BATCH:,} UUIDs a call ({len(uuids):,} given)")
        if server is not None and not isinstance(server, str):
            raise ApiError(400, "bad_request", "'server' must be a server name")
        name, server_id = service.server_id(server)

        def work() -> bytes:
            try:
                keys = normalize_uuids(uuids)
            except ConfigError as exc:
                raise ApiError(400, "bad_uuid", str(exc)) from None
            with service.reader.connect() as conn:
                found = translate.resolve_many(conn, server_id, keys)
            # Keyed as asked: by the canonical forms when every UUID came canonical (found's order is theirs)
            results = found if keys is uuids else {u: found[k] for u, k in zip(uuids, keys, strict=True)}
            return json.dumps({"server": name, "results": results}, separators=(",", ":")).encode()

        return Response(await run_in_threadpool(work), media_type="application/json")

    @api.get("/lookup/{server}/{native_id:path}")
    async def lookup(server: str, native_id: str) -> Response:
        _name, server_id = service.server_id(server)
        found = translate.lookup_kind(service.points, server_id, native_id)
        if found is None:
            raise ApiError(404, "unknown_native_id", f"{server}: no item with native id {native_id!r}")
        return _json({"uuid": found[0], "kind": found[1]})

    @api.get("/translate/{server}/{native_id:path}")
    async def translate_id(server: str, native_id: str, to: str | None = None) -> Response:
        _name, server_id = service.server_id(server)
        target, target_id = service.server_id(to)
        uuid = translate.lookup(service.points, server_id, native_id)
        if uuid is None:
            raise ApiError(404, "unknown_native_id", f"{server}: no item with native id {native_id!r}")
        native = translate.resolve_one(service.points, target_id, uuid)
        if native is None:
            raise ApiError(404, "not_on_server", f"{server} {native_id} ({uuid}) has no live item on {target}")
        return _json({"native_id": native, "uuid": uuid, "server": target})

    @api.get("/entities/{uuid}")
    async def entity(uuid: str) -> Response:
        key = _uuid(uuid)

        def work() -> dict[str, Any]:
            with service.reader.connect() as conn:
                try:
                    kind, survivor = entity_kind(conn, key)
                except NotFound:
                    raise ApiError(404, "unknown_uuid", f"no artist, album or track with UUID {key}") from None
                item = export_entity(conn, service.server_names(), kind, survivor)
            if item is None:  # merged away between the two reads
                raise ApiError(404, "unknown_uuid", f"no artist, album or track with UUID {key}")
            return item

        return _json(await run_in_threadpool(work))


def resolve_answer(service: Service, uuid: str, server: str | None) -> tuple[int, bytes]:
    """``GET /api/v1/resolve/{uuid}``: (status, JSON body), for the route and its fast path."""
    try:
        key = _uuid(uuid)
        name, server_id = service.server_id(server)
        native = translate.resolve_one(service.points, server_id, key)
        if native is None:
            with service.reader.connect() as conn:
                _missing(conn, key, name)
    except ApiError as exc:
        return exc.status, _dumps({"error": {"code": exc.code, "message": exc.message}})
    return 200, _dumps({"uuid": key, "server": name, "native_id": native})


class ResolveFastPath:
    """Answers ``GET /api/v1/resolve/{uuid}`` with the route's own ``resolve_answer``.

    The call a host app makes once per item: FastAPI's machinery (its middleware layers,
    routing, dependency injection, parameter validation) cost more CPU than the lookup
    itself and capped one process at about 2,000 answers a second on two cores. The route
    stays, for the OpenAPI docs and as the answer to anything this does not take.
    """

    PREFIX = "/api/v1/resolve/"

    def __init__(self, service: Service) -> None:
        self.service = service

    def uuid(self, scope: Any) -> str | None:
        """The UUID of a request this answers; None for any other request."""
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or not path.startswith(self.PREFIX):
            return None
        uuid: str = path[len(self.PREFIX) :]
        return uuid if uuid and "/" not in uuid else None

    async def answer(self, scope: Any, uuid: str, send: Any) -> None:
        headers = dict(scope["headers"])
        if not key_matches(given_key(headers.get(b"authorization"), headers.get(b"x-api-key")), self.service.key):
            status, body = 401, _dumps({"error": {"code": "unauthorized", "message": UNAUTHORIZED}})
        else:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            servers = query.get("server")
            try:
                status, body = resolve_answer(self.service, uuid, servers[-1] if servers else None)
            except Exception as exc:  # as the app's own handler: JSON, no traceback
                log.error("internal error: %s: %s", type(exc).__name__, exc)
                status, body = 500, _dumps({"error": {"code": "internal", "message": "internal error"}})
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


class IdmapApp(FastAPI):
    """The FastAPI app, with its ``fast_path`` ahead of every layer of FastAPI's own."""

    fast_path: ResolveFastPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        fast = self.fast_path
        uuid = None if fast is None else fast.uuid(scope)
        if fast is None or uuid is None:
            await super().__call__(scope, receive, send)
        else:
            await fast.answer(scope, uuid, send)


def given_key(authorization: bytes | str | None, api_key: bytes | str | None) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-Api-Key: KEY``."""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    if isinstance(api_key, bytes):
        api_key = api_key.decode("latin-1")
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return api_key


def _missing(conn: Any, uuid: str, server: str) -> None:
    """Raise the right 404 for a UUID that resolved to nothing on ``server``."""
    try:
        entity_kind(conn, uuid)
    except NotFound:
        raise ApiError(404, "unknown_uuid", f"no artist, album or track with UUID {uuid}") from None
    raise ApiError(404, "not_on_server", f"{uuid} has no live item on {server}")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the request body must be a JSON object")
    return body


def _feed_routes(api: APIRouter, service: Service) -> None:
    @api.get("/changes")
    async def changes(
        since: int | None = Query(default=None, ge=0), limit: int = Query(default=1000, ge=1, le=10_000),
        wait: float = Query(default=0.0, ge=0, le=MAX_WAIT),
    ) -> Response:  # fmt: skip
        """Changes after ``since`` (default: now, i.e. none: read ``next`` and poll from there)."""

        def read(cursor: int | None) -> tuple[int, list[dict[str, Any]], int]:
            with service.store.engine.connect() as conn:
                start = latest_cursor(conn) if cursor is None else cursor
                found = read_changes(conn, start, limit)
                return start, [c.as_json() for c in found], next_cursor(found, start)

        start, found, after = await run_in_threadpool(read, since)
        deadline = time.monotonic() + wait
        while not found and time.monotonic() < deadline:
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            _start, found, after = await run_in_threadpool(read, start)
        return _json({"changes": found, "next": after})


def _sync_routes(api: APIRouter, service: Service) -> None:
    @api.post("/sync", status_code=202)
    async def sync(request: Request) -> Response:
        body = await _body(request)
        names, full = body.get("servers"), body.get("full", False)
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise ApiError(400, "bad_request", "'servers' must be a list of server names")
        if not isinstance(full, bool):
            raise ApiError(400, "bad_request", "'full' must be true or false")
        known = [s.name for s in await run_in_threadpool(service.store.servers)]
        chosen = names or known
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise ApiError(404, "unknown_server", f"unknown server {unknown[0]!r} (known: {', '.join(known)})")
        if not chosen:
            raise ApiError(400, "no_server", "no server to sync; add one with 'idmap servers add'")
        job = service.runner.submit(chosen, full=full, reason="api")
        return _json({"run_id": job.id, "status": job.status}, 202)

    @api.get("/sync/{run_id}")
    async def sync_status(run_id: str) -> Response:
        job = service.runner.job(run_id)
        if job is None:
            raise ApiError(404, "unknown_run", f"no sync run {run_id!r} in this process")
        return _json(job.as_json())


def _hook_routes(hooks: APIRouter, service: Service) -> None:
    def trigger(match: Callable[[Any], bool], what: str) -> list[str]:
        names = [s.name for s in service.store.servers() if match(s)]
        for name in names:
            service.debouncer.poke(name, what)
        return names

    @hooks.post("/plex", status_code=202)
    async def plex(request: Request, server: str | None = None) -> Response:
        form = await request.form()
        raw = form.get("payload")
        if not isinstance(raw, str):
            raise ApiError(400, "bad_request", "a Plex webhook posts a multipart form with a 'payload' field")
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ApiError(400, "bad_json", "the 'payload' field is not JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "bad_request", "the 'payload' field must be a JSON object")
        if payload.get("event") != "library.new":
            return _json({"triggered": [], "ignored": str(payload.get("event"))}, 202)
        machine = (payload.get("Server") or {}).get("uuid")
        names = await run_in_threadpool(
            trigger, lambda s: s.kind == "plex" and (s.name == server if server else s.instance_id == machine),
            "plex webhook",
        )  # fmt: skip
        return _json({"triggered": names}, 202)

    @hooks.post("/jellyfin", status_code=202)
    async def jellyfin(request: Request, server: str | None = None) -> Response:
        payload = await _body(request)
        event = payload.get("NotificationType") or payload.get("Event")
        if event not in ("ItemAdded", "ItemDeleted", "ItemUpdated", "library.new"):
            return _json({"triggered": [], "ignored": str(event)}, 202)
        instance = payload.get("ServerId")
        names = await run_in_threadpool(
            trigger,
            lambda s: s.kind in ("jellyfin", "emby") and (s.name == server if server else s.instance_id == instance),
            "jellyfin webhook",
        )  # fmt: skip
        return _json({"triggered": names}, 202)
