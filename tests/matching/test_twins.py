"""Regression on twin libraries: the same files as two servers see them, plus decoys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from soulsync_idmap.matching import TrackRecord, map_path, score_tracks, track_keys
from soulsync_idmap.servers.base import ServerTrack
from tests.support.twins import Twins, make_twins

PATH_MAP = (("/media/music", "/data/music"),)


def record(t: ServerTrack, *, paths: bool = True, ids: bool = True) -> TrackRecord:
    return TrackRecord(
        title=t.title, artist=t.artist_name, album=t.album_title, duration_ms=t.duration_ms, year=t.year,
        track_number=t.track_number, disc_number=t.disc_number, mbid=t.mbid if ids else None,
        isrc=t.isrc if ids else None, path=map_path(t.path, PATH_MAP) if paths and t.path else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def twins() -> Twins:
    return make_twins(seed=7)


def test_generator_is_deterministic_and_realistic(twins: Twins) -> None:
    again = make_twins(seed=7)
    assert [t.native_id for t in again.b] == [t.native_id for t in twins.b]
    a, b = twins.tracks("a"), twins.tracks("b")
    assert len(twins.truth) == 1200 and twins.decoys
    differing = sum(b[x].title != a[y].title for x, y in twins.truth.items())
    assert 0.1 < differing / len(twins.truth) < 0.5  # noisy, but mostly equal tags
    assert any(", The" in (t.artist_name or "") for t in b.values())


@pytest.mark.parametrize(("paths", "ids"), [(True, True), (False, True), (False, False)])
def test_true_twins_merge(twins: Twins, paths: bool, ids: bool) -> None:
    a, b = twins.tracks("a"), twins.tracks("b")
    verdicts = [score_tracks(record(a[y], paths=paths, ids=ids), record(b[x], paths=paths, ids=ids)).verdict
                for x, y in twins.truth.items()]  # fmt: skip
    same = verdicts.count("same") / len(verdicts)
    assert same >= 0.95, same
    if paths:  # the same file is never dismissed outright
        assert verdicts.count("different") == 0


def test_true_twins_share_a_blocking_key(twins: Twins) -> None:
    a, b = twins.tracks("a"), twins.tracks("b")
    shared = sum(bool(set(track_keys(record(a[y]))) & set(track_keys(record(b[x])))) for x, y in twins.truth.items())
    assert shared / len(twins.truth) >= 0.99


def test_decoys_are_never_merged(twins: Twins) -> None:
    a, b = twins.tracks("a"), twins.tracks("b")
    reverse = {y: x for x, y in twins.truth.items()}
    for decoy, imitated in twins.decoys:
        for other in (a[imitated], b[reverse[imitated]]):
            # Even when the imitated track's ids are missing, the decoy is at most a review.
            result = score_tracks(record(a[decoy]), record(replace(other, mbid=None, isrc=None)))
            assert result.verdict != "same", (a[decoy].title, other.title, result.summary())
