"""An incremental sync lists every id only when counts and a sample cannot prove that nothing left.

Through the fake Plex over HTTP (exact counts from empty pages, items fetched by ratingKey).
A full listing page is a ``/all`` request with no date filter and a non-empty page size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.demo.fake_plex import FakePlex
from tests.conftest import Invoke
from tests.support.gen_library import generate
from tests.sync.test_identity import NOW, _carried, _read, _rekeyed, _uuids, _write

TOKEN = "plex-counts-token"


def _full_listing_pages(fake: FakePlex) -> int:
    return sum(
        1 for r in fake.requests
        if r.path.endswith("/all") and not any("updatedAt" in k for k in r.query)
        and r.header("x-plex-container-size") != "0"
    )  # fmt: skip


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, FakePlex]]:
    tracks, albums, artists = getattr(request, "param", (600, 50, 12))
    path = tmp_path / "plex.jsonl"
    generate(path, tracks=tracks, albums=albums, artists=artists, seed=21)
    with FakePlex(path, token=TOKEN) as fake:
        assert isinstance(fake, FakePlex)
        yield path, fake


def _sync(idmap: Invoke) -> dict[str, Any]:
    result = idmap("sync", "px", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)[0])


def _first_sync(idmap: Invoke, fake: FakePlex) -> None:
    assert idmap("servers", "add", "plex", "px", "--url", fake.url, "--token", TOKEN).exit_code == 0
    assert _sync(idmap)["mode"] == "full"


def test_changes_alone_when_the_counts_agree(idmap: Invoke, served: tuple[Path, FakePlex]) -> None:
    path, fake = served
    _first_sync(idmap, fake)
    items = _read(path)
    retitled = {i["id"] for i in items if i["kind"] == "track"}
    retitled = set(sorted(retitled)[:30])
    _write(path, [dict(i, name=i["name"] + " (2024 Remaster)", updated_at=NOW) if i["id"] in retitled else i
                  for i in items])  # fmt: skip
    fake.reload()
    fake.reset_log()
    summary = _sync(idmap)
    assert (summary["mode"], summary["updated"], summary["new"], summary["gone"]) == ("incremental", 30, 0, 0)
    assert _full_listing_pages(fake) == 0  # counts (empty pages) and a sample fetched by key sufficed


@pytest.mark.parametrize("served", [(60, 6, 3)], indirect=True)  # every live link fits in the sample
def test_a_removal_balanced_by_an_old_dated_addition_is_found(idmap: Invoke, served: tuple[Path, FakePlex]) -> None:
    path, fake = served
    _first_sync(idmap, fake)
    items = _read(path)
    removed = next(i for i in items if i["kind"] == "track")
    added = dict(removed, id="late", name="A Different Song Entirely", duration_ms=removed["duration_ms"] + 90_000,
                 path=removed["path"].replace(".flac", " (other).flac"))  # dates of the removed one: old  # fmt: skip
    added.pop("mbid", None)
    added.pop("isrc", None)
    _write(path, [added if i is removed else i for i in items])
    fake.reload()
    fake.reset_log()
    summary = _sync(idmap)
    assert (summary["gone"], summary["new"], summary["relinked"]) == (1, 1, 0)
    assert _full_listing_pages(fake) > 0  # the counts balanced; the sample found the removal


def test_a_re_key_of_a_third_that_kept_its_dates_is_a_relink(
    idmap: Invoke, served: tuple[Path, FakePlex], db_url: str
) -> None:
    path, fake = served
    _first_sync(idmap, fake)
    items = _read(path)
    before = _uuids(db_url, "px", _keyed(items))
    rng = random.Random(5)
    changed, new_ids = _rekeyed(items, lambda i: i["kind"] == "track" and rng.random() < 0.3, stamp=False)
    _write(path, changed)
    fake.reload()
    summary = _sync(idmap)
    assert (summary["relinked"], summary["new"], summary["gone"]) == (len(new_ids), 0, len(new_ids))
    keyed = {
        (k, str(FakePlex.rating_key(k, old))): str(FakePlex.rating_key(k, new)) for (k, old), new in new_ids.items()
    }
    assert _carried(before, _uuids(db_url, "px", _keyed(changed)), keyed, "track") == 1.0


def _keyed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items under the ratingKeys the fake gives them."""
    return [dict(i, id=str(FakePlex.rating_key(i["kind"], i["id"]))) for i in items]
