"""The review page: a proposal as two cards, Accept / Reject / Skip / Undo, bulk accept, covers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ...errors import NotFound, ReviewError
from ...mapping import merge as decisions
from ...mapping.review import ReviewQueue
from ...mapping.store import table
from .covers import PLACEHOLDER, fetch_cover
from .pages import Web, secure
from .session import Session
from .views import card_rows, cover_target, first_pending, neighbours, ordered_reasons, proposal_flagged, queue_page

__all__ = ["review_routes"]

ORDERS = ("score", "oldest")
KINDS = ("artist", "album", "track")
COVER_KINDS = ("plex", "jellyfin", "emby")


def _where(order: str, kind: str | None, review_id: int | None = None) -> str:
    query: dict[str, Any] = {"order": order}
    if kind:
        query["kind"] = kind
    if review_id is not None:
        query["id"] = review_id
    return "/review?" + urlencode(query)


def _params(order: str | None, kind: str | None) -> tuple[str, str | None]:
    return (order if order in ORDERS else "score"), (kind if kind in KINDS else None)


def review_routes(web: Web) -> APIRouter:
    router = APIRouter()
    store = web.store

    @router.get("/review")
    async def review(request: Request, id: int | None = None, order: str | None = None,
                     kind: str | None = None) -> Response:  # fmt: skip
        chosen_order, chosen_kind = _params(order, kind)

        async def build(session: Session) -> Response:
            data = await run_in_threadpool(_review_data, web, id, chosen_order, chosen_kind)
            return web.render(request, "review.html", session, title="Review", order=chosen_order, kind=chosen_kind,
                              **data)  # fmt: skip

        return await web.page(request, build)

    @router.post("/review/{review_id}/{verdict}")
    async def decide(request: Request, review_id: int, verdict: str) -> Response:
        order, kind = _params(request.query_params.get("order"), request.query_params.get("kind"))

        def work(_fields: dict[str, str]) -> tuple[str, str]:
            if verdict not in ("accept", "reject"):
                raise NotFound(f"no action {verdict!r}")
            with store.engine.connect() as conn:
                _prev, nxt = neighbours(conn, review_id, order, kind)
            if verdict == "accept":
                decisions.accept(store, review_id, source="web")
            else:
                decisions.reject(store, review_id, source="web")
            return f"{verdict}ed proposal #{review_id}", _where(order, kind, nxt)

        return await web.act(request, work, _where(order, kind, review_id))

    @router.post("/review/bulk-accept")
    async def bulk(request: Request) -> Response:
        session, fields, refused = await web.form(request)
        if refused is not None or session is None:
            return refused or web.login_redirect(request)
        order, kind = _params(fields.get("order"), fields.get("kind"))
        try:
            threshold = float(fields.get("min_score", ""))
        except ValueError:
            return web.back(_where(order, kind), "error: the score must be a number between 0 and 1")
        if not 0.0 <= threshold <= 1.0:
            return web.back(_where(order, kind), "error: the score must be a number between 0 and 1")
        chosen, flagged = await run_in_threadpool(_bulk_candidates, web, threshold, kind)
        if fields.get("confirmed") != "1":
            return web.render(
                request, "confirm.html", session, title="Bulk accept?", action="/review/bulk-accept",
                question=f"Accept {len(chosen)} pending proposal(s) scoring {threshold:.2f} or more? "
                         f"{flagged} flagged as different versions stay in the queue.",
                fields={"min_score": str(threshold), "kind": kind or "", "order": order, "confirmed": "1"},
                button=f"Accept {len(chosen)}", cancel=_where(order, kind),
            )  # fmt: skip

        def work() -> str:
            done = stale = 0
            for review_id in chosen:
                try:
                    decisions.accept(store, review_id, source="web")
                    done += 1
                except ReviewError:
                    stale = stale + 1  # an earlier accept of the batch merged one of its sides
            return f"accepted {done} proposal(s)" + (f"; {stale} had gone stale" if stale else "")

        return web.back(_where(order, kind), await run_in_threadpool(work))

    @router.post("/undo")
    async def undo(request: Request) -> Response:
        def work(fields: dict[str, str]) -> tuple[str, str] | str:
            wanted = fields.get("decision", "")
            decision_id = int(wanted) if wanted.isdigit() else None
            review_id = _review_of(web, decision_id)
            undone = decisions.undo(store, decision_id)
            message = f"undid {undone['action']} (decision {undone['id']})"
            if review_id is not None and fields.get("to_review") == "1":
                order, kind = _params(fields.get("order"), fields.get("kind"))
                return message, _where(order, kind, review_id)
            return message

        return await web.act(request, work, "/review")

    @router.get("/cover/{server}/{native_id:path}")
    async def cover(request: Request, server: str, native_id: str) -> Response:
        if web.session(request) is None:
            return secure(Response("log in first", 401, media_type="text/plain"))
        found = await run_in_threadpool(_cover, web, server, native_id)
        body, media = found or (PLACEHOLDER, "image/svg+xml")
        response = Response(body, media_type=media, headers={
            "Cache-Control": "private, max-age=3600", "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
        })  # fmt: skip
        return response

    return router


def _cover(web: Web, name: str, native_id: str) -> tuple[bytes, str] | None:
    found = [s for s in web.store.servers() if s.name == name]
    if not found:
        return None
    return fetch_cover(found[0], web.service.config, native_id, web.covers)


def _review_of(web: Web, decision_id: int | None) -> int | None:
    """The proposal a decision was about (to show it again after its undo)."""
    decision = table("decision")
    query = select(decision.c.payload).where(decision.c.undone_at.is_(None))
    query = query.where(decision.c.id == decision_id) if decision_id else query.order_by(decision.c.id.desc())
    with web.store.engine.connect() as conn:
        payload = conn.execute(query.limit(1)).scalar()
    review_id = json.loads(payload).get("review_id") if payload else None
    return review_id if isinstance(review_id, int) else None


def _bulk_candidates(web: Web, threshold: float, kind: str | None) -> tuple[list[int], int]:
    """(ids to accept, how many were left out as different versions), best score first."""
    review = table("review_item")
    query = select(review.c.id, review.c.reasons).where(review.c.status == "pending", review.c.score >= threshold)
    if kind:
        query = query.where(review.c.kind == kind)
    with web.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(review.c.score.desc(), review.c.id)).all()
    chosen = [r.id for r in rows if not proposal_flagged(json.loads(r.reasons or "{}"))]
    return chosen, len(rows) - len(chosen)


def _covers(web: Web, servers: dict[int, Any], kind: str, uuid: str) -> str | None:
    from urllib.parse import quote

    with web.store.engine.connect() as conn:
        targets = cover_target(conn, kind, uuid)
    for server_id, native in targets:
        server = servers.get(server_id)
        if server is not None and server.kind in COVER_KINDS:
            return f"/cover/{quote(server.name, safe='')}/{quote(native, safe='')}"
    return None


def _review_data(web: Web, review_id: int | None, order: str, kind: str | None) -> dict[str, Any]:
    queue = ReviewQueue(web.store)
    with web.store.engine.connect() as conn:
        total, rows = queue_page(conn, order, kind)
        if review_id is None:
            review_id = first_pending(conn, order, kind)
        prev, nxt = neighbours(conn, review_id, order, kind) if review_id is not None else (None, None)
        decision = table("decision")
        last = conn.execute(
            select(decision.c.id, decision.c.action).where(decision.c.undone_at.is_(None), decision.c.source == "web")
            .order_by(decision.c.id.desc()).limit(1)
        ).first()  # fmt: skip
    proposal = queue.get(review_id) if review_id is not None else None
    data: dict[str, Any] = {
        "total": total, "queue": rows, "proposal": proposal, "prev": prev, "next": nxt,
        "last_decision": last, "where": lambda rid=None: _where(order, kind, rid),
    }  # fmt: skip
    if proposal is not None:
        servers = {s.id: s for s in web.store.servers() if s.id is not None}
        data.update(
            rows=card_rows(proposal), reasons=ordered_reasons(proposal.reasons),
            flagged=proposal_flagged(proposal.reasons), others=queue.others(proposal) if proposal.status == "pending"
            else [], cover_a=_covers(web, servers, proposal.kind, proposal.uuid_a),
            cover_b=_covers(web, servers, proposal.kind, proposal.uuid_b),
        )  # fmt: skip
    return data
