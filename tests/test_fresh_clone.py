"""A fresh clone is self-sufficient: the captures the tests read are in the repository, with
their sources, and `make eval` says in one line where its third-party data goes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def test_every_capture_is_in_the_repository_with_its_source() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    assert len(files) >= 18
    headings = re.findall(r"^## (\S+): .*\(Apache-2\.0\)$", sources, flags=re.M)
    assert len(headings) == 3
    for path in map(str, files):
        assert any(path.startswith(h) if h.endswith("/") else fnmatch(path, h) for h in headings), path
    tracked = subprocess.run(["git", "ls-files", "tests/fixtures"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:  # in a git checkout: committed, not just lying around
        assert len(tracked.stdout.splitlines()) == len(files) + 1


def test_no_test_reads_data_from_outside_the_repository() -> None:
    outside = re.compile(r"parents\[3\]|\.\./shared|shared/anchors|IDMAP_ANCHORS")
    allowed = {ROOT / "tests" / "support" / "fixtures.py"}  # the one door to the unlicensed captures
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path not in allowed and path != Path(__file__).resolve() and outside.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_make_eval_says_in_one_line_where_the_data_goes(tmp_path: Path) -> None:
    data = ROOT / "benchmarks" / "data"
    if (data / "musicbrainz20k").exists() or (data / "itunes_amazon").exists():
        pytest.skip("the labeled data is installed here: make eval evaluates")
    env = {**os.environ, "IDMAP_ANCHORS": str(tmp_path)}
    ran = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_matching.py")], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0 and ran.stderr == ""
    (line,) = ran.stdout.splitlines()
    assert line.startswith("labeled data not found: put itunes_amazon/ and musicbrainz20k/ in benchmarks/data/")
