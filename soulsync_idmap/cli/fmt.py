"""How the command line shows things: one console, one timestamp style, one number style.

Tables take the terminal's width (``COLUMNS`` when not on a terminal, else 80); long cells
are cut with an ellipsis, never wrapped mid-word. Times are local with the zone for people
(``2026-12-02 14:05 CET``) and ISO 8601 with the zone in ``--json``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from ..mapping.export import iso_utc

__all__ = ["console", "iso", "number", "table", "when"]


def console(*, stderr: bool = False) -> Console:
    """A console sized to the terminal; colour only on a terminal and never under ``NO_COLOR``."""
    return Console(stderr=stderr, highlight=False)


def table(*columns: str, numeric: tuple[str, ...] = (), wrap: tuple[str, ...] = (), title: str | None = None) -> Table:
    """A borderless table, one space between columns, that fits the terminal.

    Number columns never shrink; ``wrap`` columns (long free text) wrap between words; the
    other text columns keep one line and end in an ellipsis when the terminal is too narrow.
    """
    grid = Table(box=None, title=title, title_justify="left", pad_edge=False, padding=(0, 1, 0, 0))
    for name in columns:
        if name in numeric:
            grid.add_column(name, justify="right", no_wrap=True, min_width=len(name))
        elif name in wrap:
            grid.add_column(name, overflow="fold", ratio=1)
        else:
            grid.add_column(name, overflow="ellipsis", no_wrap=True, min_width=min(len(name), 8))
    return grid


def aware(value: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without the zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def when(value: datetime | None, never: str = "never") -> str:
    """Local time with its zone, to the minute: ``2026-12-02 14:05 CET``."""
    if value is None:
        return never
    return aware(value).astimezone().strftime("%Y-%m-%d %H:%M %Z")


iso = iso_utc  # ISO 8601 with the zone (UTC), for ``--json``: the same as every JSON the package writes


def number(value: int) -> str:
    return f"{value:,}"
