"""The web pages of ``idmap serve``: dashboard, review, entities (server-rendered, a little plain JS).

``install_web(app, service)`` adds the pages at ``/`` and their static files at
``/static``. Every page needs a login (the API key, once, for a signed session cookie);
every action is a POST carrying the session's CSRF token. Decisions go through
``mapping/merge.py`` like the CLI's, with ``source="web"``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..service import Service
from .dashboard import dashboard_routes
from .entities import entity_routes
from .pages import Web
from .review import review_routes

__all__ = ["install_web"]

STATIC = Path(__file__).resolve().parent.parent / "static"


def install_web(app: FastAPI, service: Service) -> None:
    """Serve the pages of ``service`` from ``app``."""
    web = Web(service)
    for routes in (dashboard_routes, review_routes, entity_routes):
        app.include_router(routes(web), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
