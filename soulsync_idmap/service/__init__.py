"""``idmap serve``: the mapping service over HTTP, its change feed and live syncs."""

from __future__ import annotations

from .app import create_app
from .service import ApiError, Service

__all__ = ["ApiError", "Service", "create_app"]
