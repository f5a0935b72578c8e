"""soulsync-idmap: one permanent UUID per artist, album and track across media servers."""

from __future__ import annotations

__version__ = "0.1.0"
