"""What matching compares: plain records, a score with its reasons, the thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["VERSION_CONFLICT", "AlbumRecord", "ArtistRecord", "MatchScore", "Thresholds", "TrackRecord", "Verdict"]

Verdict = Literal["same", "review", "different"]
# The reason that marks a pair whose versions differ ("Live" / "Remix", "Pt. 1" / "Pt. 2"), with
# the value 1.0: such a pair is never merged automatically, nor accepted in bulk. The other
# reasons are similarities (1.0 agrees); this one is a penalty (1.0 applies).
VERSION_CONFLICT = "version_conflict"


@dataclass(frozen=True, slots=True)
class ArtistRecord:
    name: str
    sort_name: str | None = None
    mbid: str | None = None
    guid: str | None = None  # the server's own metadata id (plex://...): equal ones decide


@dataclass(frozen=True, slots=True)
class AlbumRecord:
    title: str
    artist: str | None = None
    year: int | None = None
    mbid: str | None = None
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class TrackRecord:
    title: str
    artist: str | None = None
    album: str | None = None
    duration_ms: int | None = None
    year: int | None = None
    track_number: int | None = None
    disc_number: int | None = None
    mbid: str | None = None
    isrc: str | None = None
    path: str | None = None  # already prefix-mapped
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where scores turn into verdicts. Defaults are explained in docs/matching.md.

    ``same``: the weighted score at or above which a pair is merged automatically.
    ``review``: at or above it (and below ``same``) a pair is proposed for review.
    ``gap``: when the two best candidates both reach ``same`` and are closer than this,
    neither is merged automatically (beets' "distance gap"): a person decides.
    ``duration_tolerance_s``: a duration difference up to this many seconds counts as equal.
    """

    same: float = 0.86
    review: float = 0.62
    gap: float = 0.02
    duration_tolerance_s: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.same <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= review <= same <= 1")


@dataclass(frozen=True, slots=True)
class MatchScore:
    """A score in 0..1, its verdict, and the per-field components that made it.

    ``reasons``: each compared field's similarity in 0..1, the rule that decided (``mbid``,
    ``path``, ``isrc``) and, when the versions differ, ``VERSION_CONFLICT`` at 1.0.
    """

    score: float
    verdict: Verdict
    reasons: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line, worst first: ``0.85 review: version_conflict 1.00, duration 0.50, title 0.98``."""
        parts = sorted(self.reasons.items(), key=lambda kv: (kv[0] != VERSION_CONFLICT, kv[1]))
        return f"{self.score:.2f} {self.verdict}: " + ", ".join(f"{k} {v:.2f}" for k, v in parts)

    def __float__(self) -> float:
        return self.score
