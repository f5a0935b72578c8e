"""Matching quality on third-party labeled data; prints one table.

    make eval

- iTunes-Amazon (Magellan/DeepMatcher test splits): F1 of ``score_tracks`` verdict "same".
  Nothing is trained; the thresholds are the defaults in ``Thresholds``.
- MusicBrainz 20K: five sources synced as five snapshot servers into one database;
  pairwise precision / recall / F1 of the automatic merges, and recall when every
  pending review proposal is counted as accepted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.eval_itunes import evaluate as evaluate_itunes  # noqa: E402
from benchmarks.eval_mb20k import evaluate as evaluate_mb20k  # noqa: E402

NEEDED = ("itunes_amazon/structured/test.txt", "itunes_amazon/dirty/test.txt", "musicbrainz20k/sources/1.csv")
WHERE = (
    "labeled data not found: put itunes_amazon/ and musicbrainz20k/ in benchmarks/data/ "
    "as benchmarks/data/README.md says; nothing evaluated"
)


def data_folder() -> Path | None:
    """benchmarks/data/, where the repository keeps the labeled data (None when it was removed)."""
    folder = ROOT / "benchmarks" / "data"
    return folder if all((folder / n).is_file() for n in NEEDED) else None


def main() -> None:
    found = data_folder()
    if found is None:
        print(WHERE)
        return
    run(found)


def run(data: Path) -> None:
    rows: list[tuple[str, str, str, str]] = []
    for variant, target, anchors in (
        ("structured", ">= 0.95", "Magellan 0.912, DeepMatcher 0.885, Ditto 0.971"),
        ("dirty", ">= 0.85", "Magellan 0.468, DeepMatcher 0.794"),
    ):
        result = evaluate_itunes(data / "itunes_amazon" / variant / "test.txt")
        rows.append((
            f"iTunes-Amazon {variant} test: F1 (P / R)",
            f"{result.f1:.3f} ({result.precision:.3f} / {result.recall:.3f}; {result.pairs} pairs)",
            target, anchors,
        ))  # fmt: skip
    start = time.perf_counter()
    mb = evaluate_mb20k(data / "musicbrainz20k" / "sources")
    seconds = time.perf_counter() - start
    auto, review = mb["auto"], mb["with_review"]
    rows.append(("MB20K auto-merge precision", f"{auto.precision:.4f}", ">= 0.99", ""))
    rows.append(("MB20K auto-merge recall", f"{auto.recall:.4f}", "", ""))
    rows.append(("MB20K auto-merge F1", f"{auto.f1:.4f}", ">= 0.90", ""))
    rows.append(("MB20K recall counting pending reviews", f"{review.recall:.4f}", ">= 0.97", ""))
    rows.append(("MB20K precision counting pending reviews", f"{review.precision:.4f}", "", ""))
    rows.append((
        "MB20K records / entities / pending reviews",
        f"{mb['records']:,} / {mb['entities']:,} / {mb['review_pending']:,}", "10,000 true clusters",
        f"sync + scoring {seconds:.1f} s",
    ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "value", "target", "notes")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
