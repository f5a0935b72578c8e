"""Twin libraries: one set of music files as two different servers report it.

Regression material for matching. Server "a" (Plex-like: numeric ids, paths under
/data/music) and server "b" (Jellyfin-like: 32-hex ids, paths under /media/music) index
the same files, but "b" shows the tag differences seen between real servers: sort names
("Beatles, The"), "&" spelled "and", featuring credits spelled otherwise, a
"(Remastered)" suffix, case changes, mojibake, missing MusicBrainz ids and ISRCs,
durations off by up to 1.5 s (different decoders), missing years.

Library "a" also holds *decoys*: a live recording, a remix and a single release of some
songs. They share the title and artist with an album track and must never be merged
with it; ``Twins.decoys`` pairs each one with the track it imitates.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerTrack

_WORDS = (
    "love night river golden fire heart city summer blue road dream ghost light rain "
    "wild silver morning shadow ocean paper stone broken electric velvet northern"
).split()
_ARTIST_STYLES = ("The {} {}s", "{} & the {}s", "{} {}", "Björn {}", "{} Beyoncé")


@dataclass
class Twins:
    """Both views; ``truth`` maps each of b's track ids to a's id for the same file."""

    a: list[ServerArtist | ServerAlbum | ServerTrack] = field(default_factory=list)
    b: list[ServerArtist | ServerAlbum | ServerTrack] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)
    decoys: list[tuple[str, str]] = field(default_factory=list)  # (decoy id, imitated id), both in a

    def tracks(self, side: str) -> dict[str, ServerTrack]:
        items = self.a if side == "a" else self.b
        return {t.native_id: t for t in items if isinstance(t, ServerTrack)}


def _hex(*parts: object) -> str:
    return hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()


def _phrase(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).title()


def _artist_name(rng: random.Random) -> str:
    style = rng.choice(_ARTIST_STYLES)
    return style.format(*(rng.choice(_WORDS).title() for _ in range(style.count("{}"))))


def _b_artist(rng: random.Random, name: str) -> tuple[str, str | None]:
    """The name and sort name server b shows for an artist."""
    if name.startswith("The ") and rng.random() < 0.5:
        return f"{name[4:]}, The", name[4:]
    if "&" in name and rng.random() < 0.5:
        return name.replace("&", "and"), None
    if rng.random() < 0.1:
        # UTF-8 bytes decoded as CP1252 somewhere in the tag chain.
        return name.encode("utf-8").decode("cp1252", errors="replace"), None
    return name, None


def _b_title(rng: random.Random, title: str, guest: str | None) -> str:
    roll = rng.random()
    if guest is not None:
        title = title.replace(f" (feat. {guest})", rng.choice((f" ft. {guest}", f" featuring {guest}", "")))
    if roll < 0.08:
        return f"{title} (Remastered)"
    if roll < 0.14:
        return title.lower()
    if roll < 0.18:
        return title.upper()
    return title


def _decoy(rng: random.Random, twins: Twins, track: ServerTrack, n: int) -> None:
    kind = rng.choice(("live", "remix", "single"))
    title, album = track.title, track.album_title
    if kind == "live":
        title, album = f"{title} (Live)", f"Live at {rng.choice(_WORDS).title()} Hall"
    elif kind == "remix":
        title = f"{title} ({rng.choice(_WORDS).title()} Remix)"
    else:
        album = f"{title} (Single)"
    seconds = (track.duration_ms or 200_000) + rng.choice((-1, 1)) * rng.randint(15_000, 90_000)
    decoy = ServerTrack(
        native_id=f"d{n}", title=title, artist_id=track.artist_id, artist_name=track.artist_name,
        album_title=album, track_number=1 if kind == "single" else track.track_number,
        duration_ms=max(seconds, 60_000), path=f"/data/music/{track.artist_name}/{album}/01 {title}.flac",
    )  # fmt: skip
    twins.a.append(decoy)
    twins.decoys.append((decoy.native_id, track.native_id))


def make_twins(artists: int = 40, albums_per_artist: int = 3, tracks_per_album: int = 10, seed: int = 1) -> Twins:
    """A deterministic pair of views; about one album track in ten gets a decoy."""
    rng = random.Random(seed)
    twins = Twins()
    n = 0
    for ar in range(artists):
        name = _artist_name(rng)
        mbid = _hex("artist", seed, ar) if rng.random() < 0.7 else None
        b_name, b_sort = _b_artist(rng, name)
        twins.a.append(ServerArtist(native_id=f"{1000 + ar}", name=name, mbid=mbid))
        twins.b.append(ServerArtist(native_id=_hex("b-artist", seed, ar), name=b_name, sort_name=b_sort))
        for al in range(albums_per_artist):
            album, year = _phrase(rng, rng.randint(1, 3)), rng.randint(1965, 2025)
            a_album, b_album = f"{10_000 + ar * 100 + al}", _hex("b-album", seed, ar, al)
            twins.a.append(
                ServerAlbum(native_id=a_album, title=album, artist_id=f"{1000 + ar}", artist_name=name, year=year)
            )
            twins.b.append(ServerAlbum(
                native_id=b_album, title=album, artist_id=_hex("b-artist", seed, ar), artist_name=b_name,
                year=year if rng.random() < 0.8 else None,
            ))  # fmt: skip
            for tn in range(1, tracks_per_album + 1):
                guest = _artist_name(rng) if rng.random() < 0.1 else None
                title = _phrase(rng, rng.randint(1, 4)) + (f" (feat. {guest})" if guest else "")
                path = f"{name}/{album}/{tn:02d} {title}.flac"
                duration = rng.randint(90_000, 420_000)
                isrc = f"US{rng.randint(0, 999):03d}{rng.randint(0, 9_999_999):07d}" if rng.random() < 0.5 else None
                track = ServerTrack(
                    native_id=f"{100_000 + n}", title=title, album_id=a_album, artist_id=f"{1000 + ar}",
                    artist_name=name, album_title=album, track_number=tn, disc_number=1, duration_ms=duration,
                    year=year, mbid=_hex("rec", seed, n) if rng.random() < 0.6 else None, isrc=isrc,
                    path=f"/data/music/{path}",
                )  # fmt: skip
                twin = ServerTrack(
                    native_id=_hex("b-track", seed, n), title=_b_title(rng, title, guest), album_id=b_album,
                    artist_id=_hex("b-artist", seed, ar), artist_name=b_name, album_title=album,
                    track_number=tn, disc_number=1 if rng.random() < 0.7 else None,
                    duration_ms=duration + rng.randint(-1500, 1500),
                    year=year if rng.random() < 0.8 else None,
                    mbid=track.mbid if rng.random() < 0.6 else None, isrc=isrc if rng.random() < 0.6 else None,
                    path=f"/media/music/{path}",
                )  # fmt: skip
                twins.a.append(track)
                twins.b.append(twin)
                twins.truth[twin.native_id] = track.native_id
                if rng.random() < 0.1:
                    _decoy(rng, twins, track, n)
                n += 1
    return twins
