"""A fresh clone is self-sufficient: the captures the tests read are in the repository, with
their sources, and `make eval` says in one line where its third-party data goes."""

from __future__ import annotations

import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def test_every_capture_is_in_the_repository_with_its_source() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    assert len(files) >= 18
    headings = re.findall(r"^## (\S+): .*\((?:Apache-2\.0|no licence; kept with attribution)\)$", sources, flags=re.M)
    assert len(headings) == 6
    for path in map(str, files):
        assert any(path.startswith(h) if h.endswith("/") else fnmatch(path, h) for h in headings), path
    tracked = subprocess.run(["git", "ls-files", "tests/fixtures"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:  # in a git checkout: committed, not just lying around
        assert len(tracked.stdout.splitlines()) == len(files) + 1


def test_no_test_reads_data_from_outside_the_repository() -> None:
    outside = re.compile(r"parents\[3\]|\.\./shared|shared/anchors|IDMAP_ANCHORS")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])
        if path != Path(__file__).resolve() and outside.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_make_eval_finds_its_labeled_data_in_the_repository() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.eval_matching import data_folder

    assert data_folder() == ROOT / "benchmarks" / "data"
