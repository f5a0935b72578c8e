"""The entity page: search by name, UUID or native id; links, history, Merge / Split / Undo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ...errors import ConfigError, NotFound
from ...mapping import merge as decisions
from ...mapping.store import normalize_uuid, table
from .pages import Web
from .session import Session
from .views import entity, entity_history, search

__all__ = ["entity_routes"]


def entity_routes(web: Web) -> APIRouter:
    router = APIRouter()
    store = web.store

    @router.get("/entities")
    async def find(request: Request, q: str = "") -> Response:
        async def build(session: Session) -> Response:
            def work() -> Any:
                with store.engine.connect() as conn:
                    return search(conn, q[:300])

            result = await run_in_threadpool(work)
            if result.exact:
                return web.back(f"/entities/{result.exact}")
            return web.render(request, "search.html", session, title="Entities", q=q, found=result.found)

        return await web.page(request, build)

    @router.get("/entities/{uuid}")
    async def show(request: Request, uuid: str) -> Response:
        async def build(session: Session) -> Response:
            data = await run_in_threadpool(_entity_data, web, uuid)
            if data is None:
                return web.render(request, "message.html", session, status=404, title="Not found",
                                  message=f"No artist, album or track with UUID {uuid}.")  # fmt: skip
            if data["item"]["uuid"] != data["asked"]:  # merged away: show the survivor
                return web.back(f"/entities/{data['item']['uuid']}")
            return web.render(request, "entity.html", session, title=data["item"].get("name") or uuid, **data)

        return await web.page(request, build)

    @router.post("/entities/{uuid}/merge")
    async def merge(request: Request, uuid: str) -> Response:
        def work(fields: dict[str, str]) -> str:
            other = fields.get("other", "").strip()
            decision = decisions.merge(store, uuid, other, source="web", keep=uuid)
            return f"merged {other} into this entity (decision {decision})"

        return await web.act(request, work, f"/entities/{uuid}")

    @router.post("/entities/{uuid}/split")
    async def split(request: Request, uuid: str) -> Response:
        def work(fields: dict[str, str]) -> str:
            server = fields.get("server", "")
            decision, fresh = decisions.split(store, uuid, server, source="web")
            return f"split {server}'s links off as {fresh} (decision {decision})"

        return await web.act(request, work, f"/entities/{uuid}")

    return router


def _entity_data(web: Web, uuid: str) -> dict[str, Any] | None:
    try:
        asked = normalize_uuid(uuid)
    except ConfigError:
        return None
    servers: dict[int | None, str] = {s.id: s.name for s in web.store.servers()}
    with web.store.engine.connect() as conn:
        try:
            item = entity(conn, servers, asked)
        except NotFound:
            return None
        if item is None:
            return None
        kind, survivor = item["kind"], item["uuid"]
        row = conn.execute(select(table(kind)).where(table(kind).c.uuid == survivor)).mappings().one()
        history = entity_history(conn, [survivor, *item.get("merged_from", [])])
    history.append({"at": row["created_at"], "what": "created", "decision": None, "undone": False,
                    "a": servers.get(row["origin_server_id"]) or "", "b": None, "source": ""})  # fmt: skip
    split_servers = sorted({lk["server"] for lk in item["links"] if lk["server"]})
    details = {k: v for k, v in item.items() if k not in ("uuid", "kind", "links", "merged_from", "name") and v}
    return {"asked": asked, "item": item, "row": row, "history": history, "details": details,
            "split_servers": split_servers if len(item["links"]) > 1 else []}  # fmt: skip
