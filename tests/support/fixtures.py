"""Where the tests find third-party captures.

``tests/fixtures/`` holds the captures this repository may redistribute (Apache-2.0, see
``tests/fixtures/SOURCES.md``); every test reading them runs on a fresh clone. The StreamMusic
captures (real PMS, Jellyfin and Emby answers in a repository without a licence) are not
redistributed: the tests that read them run where ``IDMAP_ANCHORS`` (or a ``shared/anchors``
folder beside the checkout) holds them, and skip with that reason elsewhere, CI included.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["FIXTURES", "find_unlicensed", "unlicensed_captures"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _anchors() -> Path:
    given = os.environ.get("IDMAP_ANCHORS")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "shared" / "anchors"


def find_unlicensed(*parts: str) -> Path | None:
    """The folder of StreamMusic captures below ``anchors/fixtures``, or None."""
    folder = _anchors().joinpath("fixtures", *parts)
    return folder if folder.is_dir() else None


def unlicensed_captures(*parts: str) -> Path:
    """The folder of StreamMusic captures below ``anchors/fixtures``, or a skip saying why."""
    folder = _anchors().joinpath("fixtures", *parts)
    if not folder.is_dir():
        pytest.skip(f"StreamMusic captures are not redistributed (no licence); set IDMAP_ANCHORS to run ({folder})")
    return folder
