"""Where the tests find third-party captures: ``tests/fixtures/`` (sources in its SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FIXTURES", "unlicensed_captures"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def unlicensed_captures(*parts: str) -> Path:
    """The folder of StreamMusic captures below ``tests/fixtures`` (real PMS, Jellyfin and Emby answers)."""
    folder = FIXTURES.joinpath(*parts)
    if not folder.is_dir():
        raise FileNotFoundError(f"captures missing from the repository: {folder}")
    return folder
