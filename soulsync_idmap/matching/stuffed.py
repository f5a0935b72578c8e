"""Stuffed titles: a store or tagger that put artist, album, price, date... into the title.

What ``score_tracks`` uses when a record lacks a field: ``unstuff`` takes the other side's
artist, album and a m:ss duration out of the title; ``stuffed_title`` compares the titles
cut where they may end. docs/matching.md ("Stuffed titles") gives the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from .normalize import TitleParts, artist_name, fold, split_folded_artist, split_title
from .records import TrackRecord

__all__ = ["complete", "stuffed_title", "unstuff"]


def complete(r: TrackRecord) -> bool:
    """Artist, album and duration all present: nothing can have been stuffed into the title."""
    return bool(r.artist and r.album and r.duration_ms)


_CLOCK = re.compile(r"\b(\d{1,2}):([0-5]\d)\b")


def unstuff(x: TrackRecord, y: TrackRecord) -> TrackRecord:
    """Take ``y``'s artist, album and a m:ss duration out of ``x``'s title where ``x`` lacks them.

    Some taggers and stores put everything in the title ("Song Artist Album 3:55"); the
    "Artist - Title" fold is the common case of it. Only what ``y`` names is taken out.
    """
    if complete(x) or (not x.artist and split_folded_artist(x.title) is not None):
        return x  # "Artist - Title": the scorer takes the artist out, keeping the title's brackets
    title = f" {fold(x.title)} "
    artist, album, duration = x.artist, x.album, x.duration_ms
    if not artist and y.artist and (rest := _take_out(title, (fold(y.artist),))) is not None:
        title, artist = rest, y.artist
    if not album and y.album and (rest := _take_out(title, (fold(y.album), split_title(y.album).base))) is not None:
        title, album = rest, y.album
    if not duration and (clock := _take_clock(x.title, title)) is not None:
        title, duration = clock
    title = title.strip()
    if not title or (artist, album, duration) == (x.artist, x.album, x.duration_ms):
        return x
    return replace(x, title=title, artist=artist, album=album, duration_ms=duration)


def _take_out(title: str, names: Sequence[str]) -> str | None:
    """``title`` (folded, a space at each end) without the first of ``names`` (3+ characters) it holds."""
    for name in names:
        if len(name) >= 3 and f" {name} " in title:
            return title.replace(f" {name} ", " ", 1)
    return None


def _take_clock(raw: str, title: str) -> tuple[str, int] | None:
    """``title`` without the m:ss duration found in ``raw`` (the title as written), and that duration in ms."""
    clock = _CLOCK.search(raw)
    if clock is None:
        return None
    minutes, seconds = clock.group(1), clock.group(2)
    return title.replace(f" {minutes} {seconds} ", " ", 1), (int(minutes) * 60 + int(seconds)) * 1000


# What follows a title when a tagger or store put everything in it: a price, a copyright
# or phonogram mark (also "‰", a mis-decoded "℗"), a m:ss duration, a year or a date.
_TRAILER = re.compile(
    r"(?:[$€£]\s?\d|\(\s*[cp]\s*\)|[©℗‰]|\d{1,2}:[0-5]\d(?!\d)|(?:19|20)\d{2}(?!\d)"
    r"|\d{1,2}-[a-z]{3}-\d{2}(?!\d)|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\s*,)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\S+")
# Store genre names, which stuffed titles carry right after the title ("Song Pop $1.29").
_GENRES = frozenset(
    "pop rock country dance electronic alternative rap hip hip-hop r&b soul jazz blues metal latin "
    "reggae folk indie christian gospel soundtrack classical house dubstep singer/songwriter".split()
)


def _cuts(x: TrackRecord, names: Sequence[str]) -> list[tuple[TitleParts, bool]]:
    """Where the title may end in a stuffed title: the parts before each trailer, genre or name.

    Each cut is (title parts, strong); a cut before an artist or album name is strong (the
    title comes first). The whole title is always one of them.
    """
    spans = [(m.start(), m.group()) for m in _WORD.finditer(x.title)]
    words = [w for _, w in spans]
    folded = [fold(w) for w in words]
    rests = [""] * (len(words) + 1)  # the folded title from word i on
    for i in range(len(words) - 1, 0, -1):
        rests[i] = f"{folded[i]} {rests[i + 1]}" if folded[i] else rests[i + 1]
    cuts: list[tuple[TitleParts, bool]] = []
    for i in range(1, len(words)):
        strong = any(rests[i].startswith(n + " ") for n in names)
        genre = words[i].casefold() in _GENRES or folded[i].partition(" ")[0] in _GENRES
        if strong or genre or _TRAILER.match(x.title, spans[i][0]):
            head = split_title(" ".join(words[:i]))
            if head.base:
                cuts.append((head, strong))
    cuts.append((split_title(x.title), False))
    return cuts


def _strict(a: str, b: str) -> float:
    """Similarity without the subset rule: a cut title must be the whole other title."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100 if a and b else 0.0


def stuffed_title(a: TrackRecord, b: TrackRecord) -> tuple[float, bool, bool] | None:
    """(title similarity, version conflict, equal heads) when a title carries other fields.

    None when neither title has anything after a possible title end. Every cut of one title
    is compared with every cut of the other; a title cut before a known artist or album name
    (of at least two words) is also compared with the other title's leading words, since
    the title comes first (worth 0.95 at most). "Equal heads": both titles begin with the
    same four or more words up to a trailer — the head then usually carries the artist
    too, and counts as one more compared field. The best comparison wins: the highest
    similarity, then no conflict, then equal heads (the first of equals).
    """
    names = _stuffed_names(a, b)
    cuts_a, cuts_b = _cuts(a, names), _cuts(b, names)
    if len(cuts_a) == 1 and len(cuts_b) == 1:
        return None
    compared = [(0.0, False, False), *_cut_pairs(cuts_a, cuts_b), *_lead_pairs(cuts_a, cuts_b)]
    compared += _lead_pairs(cuts_b, cuts_a)
    return max(compared, key=lambda c: (c[0], not c[1], c[2]))


def _stuffed_names(a: TrackRecord, b: TrackRecord) -> list[str]:
    """The artist and album names (folded, 3+ characters) a stuffed title may hold."""
    names = [fold(artist) for artist in (a.artist, b.artist) if artist and artist_name(artist)]
    for album in (a.album, b.album):
        if album:
            names += [fold(album), split_title(album).base]
    return [n for n in names if len(n) >= 3]


def _cut_pairs(
    cuts_a: list[tuple[TitleParts, bool]], cuts_b: list[tuple[TitleParts, bool]]
) -> list[tuple[float, bool, bool]]:
    """Every cut of one title against every cut of the other: (similarity, conflict, equal heads)."""
    last = (len(cuts_a) - 1, len(cuts_b) - 1)
    compared = []
    for i, (pa, _) in enumerate(cuts_a):
        for j, (pb, _) in enumerate(cuts_b):
            sim = _strict(pa.base, pb.base)
            heads = sim == 1.0 and (i, j) != last and len(pa.base.split()) >= 4
            compared.append((sim, pa.distinct != pb.distinct, heads))
    return compared


def _lead_pairs(
    cuts: list[tuple[TitleParts, bool]], other: list[tuple[TitleParts, bool]]
) -> list[tuple[float, bool, bool]]:
    """Each strong cut of two words or more against as many leading words of the other whole title."""
    lead = other[-1][0].base.split()
    compared = []
    for head, strong in cuts:
        size = len(head.base.split())
        if strong and size >= 2 and len(lead) > size:
            # the other side's version words: those of its shortest cut that covers the lead
            versions = next(p.distinct for p, _ in other if len(p.base.split()) >= size)
            compared.append((0.95 * _strict(head.base, " ".join(lead[:size])), head.distinct != versions, False))
    return compared
