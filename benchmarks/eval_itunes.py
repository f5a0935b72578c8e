"""iTunes-Amazon (Magellan/DeepMatcher split): F1 of ``score_tracks`` verdict "same"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from soulsync_idmap.matching import TrackRecord, score_tracks

_COL = re.compile(r"COL (\w+) VAL ")


def parse_side(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    parts = _COL.split(text)
    for name, value in zip(parts[1::2], parts[2::2], strict=True):
        fields[name] = value.strip()
    return fields


def _duration_ms(value: str) -> int | None:
    match = re.fullmatch(r"(\d+):(\d{2})(?::(\d{2}))?", value.strip())
    if not match:
        return None
    parts = [int(p) for p in match.groups() if p is not None]
    seconds = parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0] * 3600 + parts[1] * 60 + parts[2]
    return seconds * 1000


def _year(value: str) -> int | None:
    text = value.replace(" ,", ",").strip()
    for fmt in ("%d-%b-%y", "%B %d, %Y", "%b %d, %Y", "%Y"):
        try:
            return datetime.strptime(text, fmt).year
        except ValueError:
            continue
    match = re.search(r"\b(19|20)\d{2}\b", text)
    return int(match.group(0)) if match else None


def to_record(fields: dict[str, str]) -> TrackRecord:
    """The dataset's columns as a track record: Song_Name, Artist_Name, Album_Name, Time, Released."""
    return TrackRecord(
        title=fields.get("Song_Name", ""),
        artist=fields.get("Artist_Name") or None,
        album=fields.get("Album_Name") or None,
        duration_ms=_duration_ms(fields.get("Time", "")),
        year=_year(fields.get("Released", "")),
    )


@dataclass
class Result:
    pairs: int
    positives: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(path: Path) -> Result:
    tp = fp = fn = pairs = positives = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        left, right, label = line.split("\t")
        pairs += 1
        truth = label.strip() == "1"
        positives += truth
        same = score_tracks(to_record(parse_side(left)), to_record(parse_side(right))).verdict == "same"
        tp += same and truth
        fp += same and not truth
        fn += truth and not same
    return Result(pairs, positives, tp, fp, fn)
