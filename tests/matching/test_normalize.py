"""Normalisation rules, each with real-world spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soulsync_idmap.matching import (
    AlbumRecord,
    ArtistRecord,
    TrackRecord,
    album_keys,
    artist_keys,
    fix_mojibake,
    fold,
    map_path,
    normalize_artist,
    split_folded_artist,
    split_title,
    track_keys,
)
from soulsync_idmap.matching.normalize import numbers_differ, strip_track_number


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Sigur Rós", "sigur ros"),
        ("MOTÖRHEAD", "motorhead"),
        ("Guns N' Roses", "guns n roses"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("AC/DC", "ac dc"),
        ("  Daft   Punk ", "daft punk"),
        ("Straße", "strasse"),
        ("坂本龍一", "坂本龍一"),
        ("Кино", "кино"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("BeyoncÃ©", "Beyoncé"),
        ("MÃ¶tley CrÃ¼e", "Mötley Crüe"),
        ("De vous Ã  elle", "De vous à elle"),
        ("Björk", "Björk"),
    ],
)
def test_mojibake_is_repaired_and_clean_text_left_alone(broken: str, fixed: str) -> None:
    assert fix_mojibake(broken) == fixed


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("The Beatles", "beatles"),
        ("Beatles, The", "beatles"),
        ("Pogues, The", "pogues"),
        ("Calvin Harris feat. Rihanna", "calvin harris"),
        ("Eminem ft. Dido", "eminem"),
        ("Mark Ronson (featuring Bruno Mars)", "mark ronson"),
        ("Theory of a Deadman", "theory of a deadman"),
    ],
)
def test_normalize_artist(name: str, normal: str) -> None:
    assert normalize_artist(name) == normal


@pytest.mark.parametrize(
    ("title", "base", "distinct"),
    [
        ("Come Together (Remastered 2009)", "come together", set()),
        ("Come Together - 2019 Mix", "come together", {"mix"}),
        ("Wish You Were Here - 2011 Remaster", "wish you were here", set()),
        ("Hey Jude (Live)", "hey jude", {"live"}),
        ("Blue Monday (Club 69 Mix)", "blue monday", {"mix"}),
        ("Layla (Acoustic)", "layla", {"acoustic"}),
        ("Smells Like Teen Spirit [Explicit]", "smells like teen spirit", set()),
        ("Elevator (feat. Timbaland)", "elevator", set()),
        ("Umbrella ft. Jay-Z", "umbrella", set()),
        ("Dancing with Myself", "dancing with myself", set()),
        ("Song 2", "song 2", set()),
        ("(Untitled)", "untitled", set()),
        ("Time (From the Motion Picture Soundtrack)", "time", set()),
    ],
)
def test_split_title(title: str, base: str, distinct: set[str]) -> None:
    parts = split_title(title)
    assert parts.base == base
    assert set(parts.distinct) == distinct


def test_folded_artist_and_track_numbers() -> None:
    assert split_folded_artist("Daniel Balavoine - L'enfant aux yeux d'Italie") == (
        "Daniel Balavoine",
        "L'enfant aux yeux d'Italie",
    )
    assert split_folded_artist("Airbag") is None
    assert strip_track_number("002-Particle/Wave") == "Particle/Wave"
    assert strip_track_number("01 - Airbag") == "Airbag"
    assert strip_track_number("7 - Seven", track_number=7) == "Seven"
    assert strip_track_number("1979") == "1979"
    assert strip_track_number("99 - Problems") == "99 - Problems"


def test_keys_meet_across_spellings() -> None:
    plain = set(track_keys(TrackRecord("L'enfant aux yeux d'Italie", artist="Daniel Balavoine")))
    folded = set(track_keys(TrackRecord("Daniel Balavoine - L'enfant aux yeux d'Italie")))
    assert plain & folded
    with_album = set(track_keys(TrackRecord("Outro (Working Title)", album="Working Title")))
    assert with_album & set(track_keys(TrackRecord("Outro")))
    assert set(artist_keys(ArtistRecord("The Beatles"))) & set(artist_keys(ArtistRecord("Beatles, The")))
    assert album_keys(AlbumRecord("OK Computer (Collector's Edition)"))[0] == album_keys(AlbumRecord("OK Computer"))[0]
    assert all(k for k in track_keys(TrackRecord("!!!")))


def test_map_path() -> None:
    mapping = [("/data/music", "/mnt/music"), ("D:\\Music", "/mnt/music")]
    assert map_path("/data/music/A/B/01.flac", mapping) == "/mnt/music/A/B/01.flac"
    assert map_path("D:\\Music\\A\\B\\01.flac", mapping) == "/mnt/music/A/B/01.flac"
    assert map_path("/data/musical/x.flac", mapping) == "/data/musical/x.flac"
    assert map_path("/other/x.flac", []) == "/other/x.flac"


@given(st.text(max_size=200))
def test_fold_is_idempotent_and_total(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(max_size=120))
def test_keys_never_empty(title: str) -> None:
    keys = track_keys(TrackRecord(title or "x"))
    assert keys and all(isinstance(k, str) and k for k in keys) and len(keys) <= 3


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        ("another brick in the wall pt 1", "another brick in the wall pt 2", True),
        ("shine on part one", "shine on part two", True),
        ("suite vol ii", "suite vol 3", True),
        ("symphony no 5", "symphony no 6", True),
        ("shine on part i", "shine on part 1", False),  # one part, two spellings
        ("highway 49", "highway 499", False),  # no part word: a typo, not another part
        ("battle 4", "battle 5", False),
        ("song pt 1", "other pt 2", False),  # another title altogether
        ("song pt 1", "song pt 1 2", False),
        ("song pt 1", "song pt 1", False),
    ],
)
def test_numbers_differ_only_for_a_named_part(a: str, b: str, differ: bool) -> None:
    assert numbers_differ(a, b) is differ
    assert numbers_differ(b, a) is differ
