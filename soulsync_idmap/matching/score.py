"""Pair scoring: exact ids first, then the same file, then weighted fuzzy similarity.

Every score explains itself: ``MatchScore.reasons`` holds each component in 0..1 (and
the rule that decided, when one did). Precision comes first: a different MusicBrainz id
rules a match out; a different version (live, remix...), a clearly different album or
artist, or a long duration gap can at most be proposed for review, never merged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from .normalize import (
    artist_name,
    fold,
    normalize_artist,
    numbers_differ,
    split_folded_artist,
    split_title,
    strip_track_number,
    title_variants,
)
from .records import VERSION_CONFLICT, AlbumRecord, ArtistRecord, MatchScore, Thresholds, TrackRecord, Verdict
from .stuffed import complete, stuffed_title, unstuff

__all__ = ["pick_best", "score_albums", "score_artists", "score_tracks"]

DEFAULT = Thresholds()
# A version conflict (live vs remix, part 1 vs part 2; reason VERSION_CONFLICT) is at most
# proposed for review: its score stays this far below ``same``.
CONFLICT_MARGIN = 0.01
# Below these a field disagrees too much for an automatic merge.
TITLE_FLOOR = 0.85
FIELD_FLOORS = {"artist": 0.7, "album": 0.5, "duration": 0.4}
# Folded titles that stand for a missing title.
PLACEHOLDER_TITLES = frozenset({"", "untitled", "unknown", "no title", "n a", "na", "unk", "title", "track"})
TRACK_WEIGHTS = {"title": 0.40, "artist": 0.20, "album": 0.12, "duration": 0.18, "track_number": 0.05, "year": 0.05}
ALBUM_WEIGHTS = {"title": 0.60, "artist": 0.30, "year": 0.10}


def text_similarity(a: str, b: str) -> float:
    """0..1 similarity of two normalised strings, tolerant of word order and of extra words.

    A subset match ("abbey road" in "abbey road 2019 mix") counts a little less than
    an exact one, and only when the shorter side has at least two words: one shared word
    is too weak ("love" vs "love me do").
    """
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    best = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100
    shorter = a if len(a) <= len(b) else b
    if len(shorter.split()) >= 2:
        best = max(best, 0.92 * fuzz.token_set_ratio(a, b) / 100)
    return best


def _duration(a: int | None, b: int | None, tolerance_s: float) -> float | None:
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    diff = abs(a - b) / 1000
    if diff <= tolerance_s:
        return 1.0
    if diff <= 3 * tolerance_s:
        return 1.0 - 0.6 * (diff - tolerance_s) / (2 * tolerance_s)
    return max(0.0, 0.4 - (diff - 3 * tolerance_s) / 60)


def _number(a: int | None, b: int | None) -> float | None:
    if not a or not b:
        return None
    return 1.0 if a == b else 0.0


def _year(a: int | None, b: int | None) -> float | None:
    if not a or not b:
        return None
    gap = abs(a - b)
    return 1.0 if gap == 0 else 0.8 if gap == 1 else 0.3 if gap <= 3 else 0.0


def _weighted(components: dict[str, float | None], weights: dict[str, float]) -> tuple[float, dict[str, float]]:
    """The weighted mean of the components present, and those components (rounded) as reasons."""
    total = score = 0.0
    reasons: dict[str, float] = {}
    for key, value in components.items():
        if value is not None:
            weight = weights[key]
            total += weight
            score += weight * value
            reasons[key] = round(value, 3)
    return (score / total if total else 0.0), reasons


def _verdict(score: float, capped: bool, t: Thresholds) -> Verdict:
    if score >= t.same and not capped:
        return "same"
    if score >= t.review:
        return "review"
    return "different"


def _ids(a_id: str | None, b_id: str | None, name: str) -> MatchScore | None:
    if a_id and b_id:
        if a_id.strip().lower() == b_id.strip().lower():
            return MatchScore(1.0, "same", {name: 1.0})
        return MatchScore(0.0, "different", {name: 0.0})
    return None


def _decided(
    a: ArtistRecord | AlbumRecord | TrackRecord, b: ArtistRecord | AlbumRecord | TrackRecord
) -> MatchScore | None:
    """Ids decide: different MusicBrainz ids rule a match out, equal ones or an equal server
    metadata id (a guid) make it. Different guids decide nothing (two servers' agents may disagree)."""
    decided = _ids(a.mbid, b.mbid, "mbid")
    if decided is None and a.guid and a.guid == b.guid:
        return MatchScore(1.0, "same", {"guid": 1.0})
    return decided


def score_artists(a: ArtistRecord, b: ArtistRecord, thresholds: Thresholds | None = None) -> MatchScore:
    t = thresholds or DEFAULT
    decided = _decided(a, b)
    if decided is not None:
        return decided
    names_a = {normalize_artist(n) for n in (a.name, a.sort_name) if n}
    names_b = {normalize_artist(n) for n in (b.name, b.sort_name) if n}
    if names_a & names_b - {""}:
        return MatchScore(0.98, "same", {"name": 1.0})
    sim = max((text_similarity(x, y) for x in names_a for y in names_b), default=0.0)
    # Distinct artists often have near-identical names: a fuzzy name alone is never enough.
    return MatchScore(sim, _verdict(sim, True, t), {"name": round(sim, 3)})


def score_albums(a: AlbumRecord, b: AlbumRecord, thresholds: Thresholds | None = None) -> MatchScore:
    t = thresholds or DEFAULT
    decided = _decided(a, b)
    if decided is not None:
        return decided
    ta, tb = split_title(a.title), split_title(b.title)
    artist_a, artist_b = artist_name(a.artist), artist_name(b.artist)
    components: dict[str, float | None] = {
        "title": text_similarity(ta.base, tb.base),
        "artist": text_similarity(artist_a, artist_b) if artist_a and artist_b else None,
        "year": _year(a.year, b.year),
    }
    score, reasons = _weighted(components, ALBUM_WEIGHTS)
    # "Greatest Hits" by whom? A near-equal title and a near-equal artist, or a person decides.
    weak = (components["title"] or 0) < 0.9 or components["artist"] is None or components["artist"] < 0.85
    conflict = ta.distinct != tb.distinct or numbers_differ(ta.base, tb.base)
    if conflict:
        score = _conflict_cap(score, t)
        reasons[VERSION_CONFLICT] = 1.0
    return MatchScore(score, _verdict(score, weak or conflict, t), reasons)


def _track_sides(a: TrackRecord) -> tuple[str, str | None]:
    """(title, artist) as the record means them.

    A leading track number goes ("01 - Song"); with no artist, "Artist - Title" gives
    both; then a trailing "(Album)" or " - Album" that repeats the record's own album goes.
    """
    title = strip_track_number(a.title, a.track_number)
    artist = artist_name(a.artist)
    if artist is None:
        folded = split_folded_artist(title)
        if folded is not None:
            title, artist = folded[1], artist_name(folded[0])
    if a.album:
        album, whole = fold(a.album), fold(title)
        if len(album) >= 3 and whole.endswith(" " + album):
            return whole[: -len(album)].strip(), artist
        for variant in title_variants(title)[1:]:
            suffix = fold(title[len(variant) :])
            if suffix and text_similarity(suffix, album) >= 0.95:
                return variant, artist
    return title, artist


def _path_signal(a: TrackRecord, b: TrackRecord) -> float | None:
    if not a.path or not b.path:
        return None
    pa, pb = a.path.replace("\\", "/"), b.path.replace("\\", "/")
    if pa == pb:
        return 1.0
    # the last three components, empty ones ("//", a trailing "/") left out
    if [p for p in pa.casefold().split("/") if p][-3:] == [p for p in pb.casefold().split("/") if p][-3:]:
        return 0.95
    return None


class _Titles(NamedTuple):
    """How two track titles compare: similarity (None: one side has no title), conflict, equal heads."""

    similarity: float | None
    conflict: bool
    equal_heads: bool


def score_tracks(a: TrackRecord, b: TrackRecord, thresholds: Thresholds | None = None) -> MatchScore:
    """Equal ids decide; then the same file, an equal ISRC, and the weighted fields, in that order."""
    t = thresholds or DEFAULT
    decided = _decided(a, b)
    if decided is not None:
        return decided
    # Only a record missing a field can have stuffed it into its title: the cuts cost more
    # than the rest of the scoring, and a library with complete tags never needs them.
    stuffed = None if complete(a) and complete(b) else stuffed_title(a, b)
    a, b = unstuff(a, b), unstuff(b, a)
    titles, components = _track_components(a, b, stuffed, t)
    score, reasons = _weighted(components, TRACK_WEIGHTS)
    weak = _too_weak(components, titles.equal_heads)
    if titles.conflict:
        score = _conflict_cap(score, t)
        reasons[VERSION_CONFLICT] = 1.0
    decided = _same_file(a, b, titles, score, reasons) or _same_isrc(a, b, titles, components, score, reasons, t)
    return decided or MatchScore(score, _verdict(score, weak or titles.conflict, t), reasons)


def _track_components(
    a: TrackRecord, b: TrackRecord, stuffed: tuple[float, bool, bool] | None, t: Thresholds
) -> tuple[_Titles, dict[str, float | None]]:
    """The titles' comparison and each field's similarity (None: missing on a side)."""
    title_a, artist_a = _track_sides(a)
    title_b, artist_b = _track_sides(b)
    titles = _compare_titles(title_a, a.track_number, title_b, b.track_number, stuffed)
    return titles, {
        "title": titles.similarity,
        "artist": text_similarity(artist_a, artist_b) if artist_a and artist_b else None,
        "album": _album_similarity(a.album, b.album),
        "duration": _duration(a.duration_ms, b.duration_ms, t.duration_tolerance_s),
        "track_number": _number(a.track_number, b.track_number),
        "year": _year(a.year, b.year),
    }


def _compare_titles(
    title_a: str, number_a: int | None, title_b: str, number_b: int | None, stuffed: tuple[float, bool, bool] | None
) -> _Titles:
    """The base titles' similarity and whether the versions (or the parts) differ.

    A missing title ("(untitled)", "unknown", only a track number) says nothing either way;
    the other fields can then at most propose the pair for review (the title floor). A
    stuffed title's best cut (``stuffed_title``) counts when it is closer than the whole.
    """
    pa, pb = split_title(title_a), split_title(title_b)
    if _no_title(pa.base, number_a) != _no_title(pb.base, number_b):
        return _Titles(None, False, False)  # nor which version it is
    similarity = text_similarity(pa.base, pb.base)
    if stuffed is not None and stuffed[0] > similarity:
        return _Titles(*stuffed)
    return _Titles(similarity, pa.distinct != pb.distinct or numbers_differ(pa.base, pb.base), False)


def _too_weak(components: dict[str, float | None], equal_heads: bool) -> bool:
    """Too little agreement for an automatic merge: a field below its floor, or too few fields.

    A missing title counts as below its floor; a title and one more field is too little
    (equal stuffed heads with no artist field count as one more).
    """
    if (components["title"] or 0.0) < TITLE_FLOOR:
        return True
    for key, floor in FIELD_FLOORS.items():
        value = components[key]
        if value is not None and value < floor:
            return True
    present = len(components) - list(components.values()).count(None)
    return present + (equal_heads and components["artist"] is None) < 3


def _conflict_cap(score: float, t: Thresholds) -> float:
    """A version conflict's score: at most just below ``same``, so it is never merged automatically."""
    return min(score, round(t.same - CONFLICT_MARGIN, 3))


def _same_file(
    a: TrackRecord, b: TrackRecord, titles: _Titles, score: float, reasons: dict[str, float]
) -> MatchScore | None:
    """The same file (path signal): same, unless the versions differ or the titles disagree."""
    same_file = _path_signal(a, b)
    if same_file is None or titles.conflict or (titles.similarity or 0.0) < 0.5:
        return None
    reasons["path"] = same_file
    return MatchScore(max(score, same_file), "same", reasons)


def _same_isrc(
    a: TrackRecord, b: TrackRecord, titles: _Titles, components: dict[str, float | None], score: float,
    reasons: dict[str, float], t: Thresholds,
) -> MatchScore | None:  # fmt: skip
    """An equal ISRC: same, unless the versions differ or a long duration gap says otherwise (review)."""
    if not (a.isrc and b.isrc and a.isrc.strip().upper() == b.isrc.strip().upper()):
        return None
    reasons["isrc"] = 1.0
    if titles.conflict:
        return MatchScore(_conflict_cap(max(score, 0.95), t), "review", reasons)
    duration = components["duration"]
    strong = duration is None or duration >= FIELD_FLOORS["duration"]
    return MatchScore(max(score, 0.95), "same" if strong else "review", reasons)


def _no_title(base: str, track_number: int | None) -> bool:
    """A placeholder title, or one that is only the track number ("005", "7")."""
    if base in PLACEHOLDER_TITLES:
        return True
    return base.isdigit() and (base.startswith("0") or int(base) == track_number)


_BRACKETED = re.compile(r"[\(\[\{][^\)\]\}]*[\)\]\}]")


def _album_similarity(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    base_a, base_b = _album_base(a), _album_base(b)
    if base_a is None or base_b is None:
        return None  # "(2001)", "[unknown]": no album name
    return text_similarity(base_a, base_b)


@lru_cache(maxsize=100_000)
def _album_base(album: str) -> str | None:
    """An album title's base for comparing (None when brackets are all it holds): a dozen
    tracks of an album, on both sides of each pair, ask for the same few titles."""
    if not fold(_BRACKETED.sub(" ", album)):
        return None
    return split_title(album).base


def pick_best(scores: Sequence[MatchScore], thresholds: Thresholds | None = None) -> tuple[int, Verdict] | None:
    """The best candidate and the final verdict; None when nothing reaches "review".

    When the two best are both "same" and closer than ``gap``, the choice is a person's.
    """
    t = thresholds or DEFAULT
    ranked = sorted(range(len(scores)), key=lambda i: (scores[i].verdict == "same", scores[i].score), reverse=True)
    if not ranked or scores[ranked[0]].verdict == "different":
        return None
    best = ranked[0]
    verdict = scores[best].verdict
    if verdict == "same" and len(ranked) > 1:
        runner = scores[ranked[1]]
        if runner.verdict == "same" and scores[best].score - runner.score < t.gap:
            verdict = "review"
    return best, verdict
