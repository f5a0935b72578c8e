"""Pair scoring: each signal, the vetoes, the breakdown, pick_best."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from soulsync_idmap.matching import (
    AlbumRecord,
    ArtistRecord,
    MatchScore,
    Thresholds,
    TrackRecord,
    pick_best,
    score_albums,
    score_artists,
    score_tracks,
)

AIRBAG = TrackRecord("Airbag", "Radiohead", "OK Computer", 284_000, 1997, 1)


def test_equal_mbids_decide_and_different_ones_rule_out() -> None:
    a = TrackRecord("Airbag", mbid="6b9a509f-6907-4a6e-9345-2f12da09ba4b")
    b = TrackRecord("Something else entirely", mbid="6B9A509F-6907-4A6E-9345-2F12DA09BA4B")
    assert score_tracks(a, b).verdict == "same"
    c = TrackRecord("Airbag", "Radiohead", "OK Computer", 284_000, mbid="00000000-0000-0000-0000-000000000001")
    d = TrackRecord("Airbag", "Radiohead", "OK Computer", 284_000, mbid="00000000-0000-0000-0000-000000000002")
    result = score_tracks(c, d)
    assert result.verdict == "different" and result.reasons == {"mbid": 0.0}


def test_equal_isrc_is_strong_evidence() -> None:
    a = TrackRecord("Airbag", "Radiohead", isrc="GBAYE9700164", duration_ms=284_000)
    b = TrackRecord("Airbag (Remastered)", "Radiohead", "OK Computer OKNOTOK", isrc="gbaye9700164", duration_ms=285_000)
    result = score_tracks(a, b)
    assert result.verdict == "same" and result.reasons["isrc"] == 1.0


def test_same_file_after_path_mapping() -> None:
    a = TrackRecord("Airbag", path="/mnt/music/Radiohead/OK Computer/01 Airbag.flac")
    b = TrackRecord("AIRBAG", path="/data/media/Radiohead/OK Computer/01 Airbag.flac")
    assert score_tracks(a, b).verdict == "same"
    other = TrackRecord("Airbag", path="/mnt/music/Radiohead/Live/01 Airbag.flac")
    assert "path" not in score_tracks(a, other).reasons


def test_fuzzy_match_of_differently_tagged_copies() -> None:
    b = TrackRecord("AIRBAG (Remastered)", "radiohead", "OK Computer (Collector's Edition)", 285_200, 1997, 1)
    result = score_tracks(AIRBAG, b)
    assert result.verdict == "same"
    assert result.reasons["duration"] == 1.0 and result.reasons["title"] == 1.0


def test_live_versions_and_remixes_are_never_merged_automatically() -> None:
    for title in ("Airbag (Live)", "Airbag - Live at Glastonbury", "Airbag (Remix)", "Airbag (Acoustic)"):
        result = score_tracks(AIRBAG, TrackRecord(title, "Radiohead", "OK Computer", 284_000, 1997, 1))
        assert result.verdict != "same", title
        assert result.reasons.get("version_conflict") == 1.0


KARMA = TrackRecord("Karma Police", "Radiohead", "OK Computer", 264_000, 1997, 6)


def test_a_version_conflict_is_named_and_scored_below_same() -> None:
    # Same album, same place, same length: only the version words differ.
    for x, y in (
        ("Karma Police (Live)", "Karma Police (Remix)"),
        ("Karma Police", "Karma Police (Live)"),
        ("Karma Police (Radio Edit)", "Karma Police (Extended Mix)"),
        ("Karma Police (Demo)", "Karma Police"),
    ):
        result = score_tracks(replace(KARMA, title=x), replace(KARMA, title=y))
        assert result.verdict == "review", (x, y, result.summary())
        assert result.score < Thresholds().same and result.reasons["version_conflict"] == 1.0
        assert result.summary().split(": ")[1].startswith("version_conflict 1.00")
    strict = Thresholds(same=0.95, review=0.6)
    live = score_tracks(replace(KARMA, title="Karma Police (Live)"), KARMA, strict)
    assert live.verdict == "review" and live.score < 0.95


def test_different_parts_stay_apart() -> None:
    for x, y in (("Another Brick in the Wall, Pt. 1", "Another Brick in the Wall, Pt. 2"),
                 ("Shine On You Crazy Diamond (Part One)", "Shine On You Crazy Diamond (Part Two)"),
                 ("Suite, Vol. II", "Suite, Vol. 3")):  # fmt: skip
        result = score_tracks(replace(KARMA, title=x), replace(KARMA, title=y))
        assert result.verdict == "review" and result.score < Thresholds().same, (x, y, result.summary())
        assert result.reasons["version_conflict"] == 1.0
    # the same part written two ways, and a mistyped number that no part word announces
    for x, y in (("Shine On (Part I)", "Shine On (Part 1)"), ("Highway 49", "Highway 499")):
        result = score_tracks(replace(KARMA, title=x), replace(KARMA, title=y))
        assert result.verdict == "same" and "version_conflict" not in result.reasons, (x, y)


def test_plain_and_remastered_are_the_same_recording() -> None:
    for title in ("Karma Police (Remastered 2017)", "Karma Police - 2017 Remaster", "Karma Police (Deluxe Edition)"):
        result = score_tracks(KARMA, replace(KARMA, title=title))
        assert result.verdict == "same" and "version_conflict" not in result.reasons, title


def test_an_equal_isrc_does_not_merge_a_version_conflict() -> None:
    a = TrackRecord("Karma Police (Live)", "Radiohead", isrc="GBAYE9700170")
    result = score_tracks(a, replace(a, title="Karma Police (Remix)"))
    assert result.verdict == "review" and result.score < Thresholds().same
    assert result.reasons["isrc"] == 1.0 and result.reasons["version_conflict"] == 1.0


def test_a_missing_title_is_no_version_conflict() -> None:
    # "(untitled)" says nothing about the version either: proposed, not flagged
    result = score_tracks(replace(KARMA, title="Karma Police (Live)"), replace(KARMA, title="(untitled)"))
    assert result.verdict == "review" and result.score == 1.0
    assert set(result.reasons) == {"artist", "album", "duration", "track_number", "year"}


def test_album_versions_and_volumes_are_named_conflicts() -> None:
    for x, y in (("Greatest Hits, Vol. 1", "Greatest Hits, Vol. 2"), ("Alive (Live)", "Alive (Remix)")):
        result = score_albums(AlbumRecord(x, "Queen", 1990), AlbumRecord(y, "Queen", 1990))
        assert result.verdict == "review" and result.score < Thresholds().same, (x, y, result.summary())
        assert result.reasons["version_conflict"] == 1.0


def test_same_title_on_a_different_album_is_not_merged() -> None:
    single = TrackRecord("Airbag", "Radiohead", "Airbag / How Am I Driving?", 284_000, 1998, 1)
    assert score_tracks(AIRBAG, single).verdict != "same"


def test_a_long_duration_gap_is_not_merged() -> None:
    edit = TrackRecord("Airbag", "Radiohead", "OK Computer", 200_000, 1997, 1)
    assert score_tracks(AIRBAG, edit).verdict != "same"


def test_different_artist_is_not_merged() -> None:
    cover = TrackRecord("Airbag", "Some Cover Band", "OK Computer", 284_000, 1997, 1)
    assert score_tracks(AIRBAG, cover).verdict != "same"


def test_artist_folded_into_title() -> None:
    a = TrackRecord("Radiohead - Airbag", None, "OK Computer", 284_000, 1997, 1)
    assert score_tracks(a, AIRBAG).verdict == "same"


# A store or tagger that puts everything in the title: title first, then artist, album,
# genre, price, copyright line, m:ss and release date, those fields left empty.
CLEAN = TrackRecord("Northern Lights", "Harbour Kites", "Salt and Glass", 245_000, 2016)


def test_stuffed_title_cut_at_a_price_or_copyright_trailer() -> None:
    stuffed = TrackRecord("Northern Lights Alternative $ 1.29 (C) 2016 Tidewater Records 4:05", None, "Salt and Glass")
    result = score_tracks(CLEAN, stuffed)
    assert result.verdict == "same" and result.reasons["title"] == 1.0 and result.reasons["duration"] == 1.0


def test_stuffed_title_cut_at_the_other_sides_artist() -> None:
    # the title ends where the other side's artist begins; the clean side has junk of its own
    stuffed = TrackRecord("Paper Boats on the River Harbour Kites Indie Rock 2:58")
    other = TrackRecord("Paper Boats on the River Tidewater Records 2016", "Harbour Kites", "Salt and Glass", 178_000)
    result = score_tracks(stuffed, other)
    assert result.verdict == "same" and result.reasons["artist"] == 1.0 and result.reasons["title"] == 0.95


def test_stuffed_album_taken_out_despite_punctuation() -> None:
    stuffed = TrackRecord("Northern Lights Harbour Kites Salt & Glass (Deluxe) Indie Rock March 4, 2016 4:06")
    result = score_tracks(stuffed, CLEAN)
    assert result.verdict == "same" and result.reasons["album"] == 1.0 and result.reasons["title"] == 1.0


def test_equal_stuffed_heads_count_as_a_field() -> None:
    # neither side names the artist; both begin with title, artist and album up to a genre or a price
    a = TrackRecord("Northern Lights Harbour Kites Salt and Glass Rock , Music , Indie Rock $ 1.29 4:05")
    b = TrackRecord("Northern Lights Harbour Kites Salt and Glass Alternative 12-Feb-16", duration_ms=245_000)
    assert score_tracks(a, b).verdict == "same"
    short = TrackRecord("Intro Pop $ 0.99 1:00")
    assert score_tracks(short, TrackRecord("Intro Rock 2016", duration_ms=60_000)).verdict != "same"


def test_stuffed_title_of_another_song_by_the_same_artist_and_album_is_not_merged() -> None:
    for title in (
        "Paper Boats on the River Harbour Kites Salt and Glass Alternative $ 1.29 4:05",
        "Northern Harbour Kites Salt and Glass Alternative $ 1.29 4:05",
        "Northern Lights Reprise Harbour Kites Salt and Glass Alternative $ 1.29 4:05",
    ):
        assert score_tracks(CLEAN, TrackRecord(title)).verdict != "same", title


def test_version_words_in_a_stuffed_title_still_veto() -> None:
    live = TrackRecord("Northern Lights (Live) Harbour Kites Salt and Glass $ 1.29 4:05")
    result = score_tracks(CLEAN, live)
    assert result.verdict != "same" and result.reasons.get("version_conflict") == 1.0


def test_title_and_one_field_is_too_little() -> None:
    assert (
        score_tracks(TrackRecord("Intro", duration_ms=60_000), TrackRecord("Intro", duration_ms=60_000)).verdict
        != "same"
    )


def test_breakdown_and_summary() -> None:
    b = TrackRecord("Airbag", "Radiohead", "OK Computer", 300_000, 1997, 1)
    result = score_tracks(AIRBAG, b)
    assert set(result.reasons) >= {"title", "artist", "album", "duration", "track_number", "year"}
    assert result.summary().split(": ")[1].startswith("duration")


def test_artists() -> None:
    assert score_artists(ArtistRecord("The Beatles"), ArtistRecord("Beatles, The")).verdict == "same"
    assert score_artists(ArtistRecord("Brandy"), ArtistRecord("Brand")).verdict != "same"
    assert score_artists(ArtistRecord("Nirvana", mbid="a"), ArtistRecord("Nirvana", mbid="b")).verdict == "different"


def test_albums() -> None:
    a = AlbumRecord("OK Computer", "Radiohead", 1997)
    assert score_albums(a, AlbumRecord("OK Computer (Collector's Edition)", "Radiohead", 1997)).verdict == "same"
    assert score_albums(AlbumRecord("Greatest Hits", "Queen"), AlbumRecord("Greatest Hits", "ABBA")).verdict != "same"
    assert score_albums(AlbumRecord("Greatest Hits"), AlbumRecord("Greatest Hits")).verdict != "same"


def test_pick_best_gap_rule() -> None:
    same_a = MatchScore(0.95, "same", {})
    same_b = MatchScore(0.945, "same", {})
    assert pick_best([same_b, same_a]) == (1, "review")
    assert pick_best([MatchScore(0.99, "same", {}), same_b]) == (0, "same")
    assert pick_best([MatchScore(0.3, "different", {})]) is None
    assert pick_best([]) is None
    assert pick_best([MatchScore(0.7, "review", {}), MatchScore(0.5, "different", {})]) == (0, "review")


def test_thresholds_validate() -> None:
    import pytest

    with pytest.raises(ValueError):
        Thresholds(same=0.5, review=0.7)


tracks = st.builds(
    TrackRecord,
    title=st.text(min_size=1, max_size=40),
    artist=st.none() | st.text(max_size=20),
    album=st.none() | st.text(max_size=20),
    duration_ms=st.none() | st.integers(1, 900_000),
    year=st.none() | st.integers(1900, 2030),
    track_number=st.none() | st.integers(1, 30),
)


@given(tracks, tracks)
def test_scores_are_bounded_and_symmetric(a: TrackRecord, b: TrackRecord) -> None:
    ab, ba = score_tracks(a, b), score_tracks(b, a)
    assert 0.0 <= ab.score <= 1.0
    assert all(0.0 <= v <= 1.0 for v in ab.reasons.values())
    assert ab.verdict == ba.verdict
    assert abs(ab.score - ba.score) < 1e-9


@given(tracks)
def test_a_record_is_never_different_from_itself(a: TrackRecord) -> None:
    assert score_tracks(a, a).verdict != "different"


def test_a_missing_title_is_proposed_for_review_when_everything_else_agrees() -> None:
    tagged = TrackRecord("Sunday Morning", "The Velvet Underground", "The Velvet Underground & Nico", 176_000,
                         track_number=1)  # fmt: skip
    for placeholder in ("(untitled)", "[Unknown]", "n.a.", "001", "01 - "):
        blank = replace(tagged, title=placeholder)
        m = score_tracks(tagged, blank)
        assert m.verdict == "review", (placeholder, m.summary())
        assert "title" not in m.reasons
    # Two untitled tracks at the same place are still compared by their titles.
    assert score_tracks(replace(tagged, title="[untitled]"), replace(tagged, title="[untitled]")).verdict == "same"
    # A title that is a number, but not the track's own, is a title ("1979", "7").
    assert score_tracks(replace(tagged, title="1979"), tagged).verdict == "different"


def test_a_placeholder_album_is_no_album() -> None:
    a = TrackRecord("Kiss Off", "Violent Femmes", "Violent Femmes", 174_000, track_number=3)
    assert score_tracks(a, replace(a, album="Violent Femmes (unknown)")).verdict == "same"
    m = score_tracks(a, replace(a, album="(1983)"))
    assert m.verdict == "same" and "album" not in m.reasons


def test_an_equal_server_metadata_id_decides_unless_musicbrainz_ids_differ() -> None:
    guid = "plex://track/5d07cdd1403c640290f6f1a1"
    retagged = TrackRecord("Retitled", "Somebody", "Elsewhere", 100_000, guid=guid)
    assert score_tracks(replace(AIRBAG, guid=guid), retagged).verdict == "same"
    assert score_tracks(replace(AIRBAG, guid=guid), retagged).reasons == {"guid": 1.0}
    other_recording = replace(retagged, mbid="00000000-0000-4000-8000-000000000001")
    assert score_tracks(replace(AIRBAG, guid=guid, mbid="6b9a509f-6907-4a6e-9345-2f12da09ba4b"),
                        other_recording).verdict == "different"  # fmt: skip
    # two servers' agents may disagree: different guids decide nothing
    assert score_tracks(replace(AIRBAG, guid=guid), replace(AIRBAG, guid="plex://track/other")).verdict == "same"
    assert score_tracks(replace(AIRBAG, guid=guid), replace(retagged, guid="plex://track/other")).verdict != "same"
