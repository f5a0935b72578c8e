"""Text normalisation for matching: pure functions, cached where names repeat.

What two servers write differently for the same thing: case, accents, punctuation,
"feat."/"ft."/"featuring", bracketed edition suffixes ("(Remastered 2011)"), a leading
"The", "&" vs "and", sort names ("Beatles, The"), mojibake ("BeyoncÃ©"), and the artist
folded into the title ("Artist - Title"). Version words that name a *different recording*
(live, remix, acoustic, demo...) are kept apart, so they can veto a match.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "VARIOUS_ARTISTS",
    "TitleParts",
    "artist_name",
    "fix_mojibake",
    "fold",
    "normalize_artist",
    "normalize_text",
    "numbers_differ",
    "split_folded_artist",
    "split_title",
    "strip_track_number",
    "title_suffixes",
    "title_variants",
]

_MOJIBAKE_HINTS = ("Ã", "Â", "â€", "Ð", "Ñ", "Ø", "Ù", "ã€", "ï¼")
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")
_FEAT = re.compile(r"\s*[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s+[^\)\]]*[\)\]]", re.IGNORECASE)
_FEAT_BARE = re.compile(r"\s+\b(?:feat\.?|ft\.?|featuring)\s+.*$", re.IGNORECASE)
_BRACKETS = re.compile(r"\s*[\(\[\{]([^\)\]\}]*)[\)\]\}]")
_DASH_SUFFIX = re.compile(r"\s+[-–—]\s+([^-–—]+)$")

# Words in a bracket or dash suffix that do not change the recording.
NEUTRAL = frozenset(
    """remaster remastered remasters remastering digital digitally deluxe edition expanded anniversary
    explicit clean album version original bonus track reissue mono stereo single lp ep bit 24 24bit
    hd hi res hires special collector collectors limited international us uk japan japanese release
    from soundtrack motion picture the of a and to in on
    unknown""".split()  # "Album (unknown)": a tagger's placeholder for a missing year or edition
)
# Words that name a different recording: if one side has them and the other not, it is not the same.
DISTINCT = frozenset(
    """live remix rmx mix acoustic unplugged demo instrumental karaoke acapella cappella edit extended
    rehearsal reprise slowed sped nightcore outtake rework bootleg""".split()
)
VARIOUS_ARTISTS = frozenset(
    {"various artists", "various", "va", "verschiedene interpreten", "artistes divers", "vários artistas"}
)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1/CP1252 ("BeyoncÃ©" -> "Beyoncé") when that is what happened."""
    if text.isascii() or not any(hint in text for hint in _MOJIBAKE_HINTS):
        return text
    # "Ã " is "à" whose second byte (a no-break space) was turned into a plain space.
    for candidate in (text, text.replace("Ã ", "Ã\xa0")):
        for codec in ("cp1252", "latin-1"):
            try:
                return candidate.encode(codec).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    return text


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Case, accents, punctuation and spacing folded away; letters of any script kept."""
    text = fix_mojibake(text)
    text = text.replace("&", " and ").replace("+", " and ")
    if text.isascii():  # most names: nothing to decompose, no accents to drop
        return _SPACES.sub(" ", _PUNCT.sub(" ", text.lower())).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.casefold().replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("œ", "oe")
    return _SPACES.sub(" ", _PUNCT.sub(" ", stripped)).strip()


def normalize_text(text: str) -> str:
    """The generic normalisation behind the blocking keys."""
    return fold(text)


@lru_cache(maxsize=100_000)
def normalize_artist(name: str) -> str:
    """An artist name for comparison: sort-name order undone, "The" and featuring dropped."""
    text = fix_mojibake(name).strip()
    sort_form = re.match(r"^(.+),\s*(the|a|an|die|der|le|la|les|el|los)$", text, re.IGNORECASE)
    if sort_form:
        text = f"{sort_form.group(2)} {sort_form.group(1)}"
    text = _FEAT.sub(" ", text)
    text = _FEAT_BARE.sub("", text)
    folded = fold(text)
    if folded.startswith("the "):
        folded = folded[4:]
    return folded


def artist_name(artist: str | None) -> str | None:
    """A credited artist for comparison, or None for no artist (missing, empty, "Various Artists")."""
    if not artist:
        return None
    name = normalize_artist(artist)
    return None if not name or name in VARIOUS_ARTISTS else name


class TitleParts:
    """A title split into its base words and the version tags around it."""

    __slots__ = ("base", "distinct", "neutral")

    def __init__(self, base: str, distinct: frozenset[str], neutral: bool) -> None:
        self.base = base
        self.distinct = distinct
        self.neutral = neutral

    def __repr__(self) -> str:
        return f"TitleParts({self.base!r}, {sorted(self.distinct)}, neutral={self.neutral})"


def _classify(suffix: str) -> tuple[frozenset[str], bool] | None:
    """(distinct words, had neutral words) of a suffix, or None when it is part of the title."""
    words = fold(suffix).split()
    if not words:
        return frozenset(), False
    distinct = frozenset(w for w in words if w in DISTINCT)
    if distinct:
        return distinct, False
    if all(w in NEUTRAL or w.isdigit() or len(w) == 1 for w in words):
        return frozenset(), True
    return None


# Words that number a part ("Pt. 2", "Vol. II", "Part Two"), by their value.
_NUMBER_WORDS = {
    **{w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())},
    **{w: i + 1 for i, w in enumerate("i ii iii iv v vi vii viii ix x xi xii".split())},
}
# What announces a part's number. A bare number is left alone: a number typed wrong
# ("Highway 49" / "Highway 499", "BWV 894" / "BWV 984") is common, a part named so is not.
PART_WORDS = frozenset("pt part parts vol volume no nr number chapter act movement mvt book episode".split())


def _number_value(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def numbers_differ(a: str, b: str) -> bool:
    """Two base titles equal but for a part's number: different parts ("pt 1" / "pt 2", "vol ii" / "vol 3").

    Word by word: every word equal, or both words numbers (digits, "one".."twelve", "i".."xii")
    after a part word (PART_WORDS), at least one pair of them of different value. "Part 1"
    and "Part I" are the same part.
    """
    if a == b:
        return False
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b):
        return False
    differ = False
    for i, (x, y) in enumerate(zip(words_a, words_b, strict=True)):
        if x == y:
            continue
        vx, vy = _number_value(x), _number_value(y)
        if vx is None or vy is None or i == 0 or words_a[i - 1] not in PART_WORDS:
            return False
        differ = differ or vx != vy
    return differ


_VERSION_SETS: dict[str, frozenset[str]] = {}


def split_title(title: str) -> TitleParts:
    """Base title (featuring and edition suffixes removed) and the version tags it carried."""
    base, versions, neutral = _split_title(title)
    distinct = _VERSION_SETS.get(versions)
    if distinct is None:  # a handful of combinations ("live", "live remix", ...)
        distinct = _VERSION_SETS[versions] = frozenset(versions.split())
    return TitleParts(base, distinct, neutral)


# The cache holds plain tuples of strings, which the garbage collector stops tracking. Cached
# TitleParts objects (and their sets) were 400,000 objects that every full collection walked:
# 50 s of a million-track cross-server sync.
@lru_cache(maxsize=200_000)
def _split_title(title: str) -> tuple[str, str, bool]:
    text = fix_mojibake(title)
    text = _FEAT.sub(" ", text)
    text = _FEAT_BARE.sub("", text)
    distinct: set[str] = set()
    neutral = False
    kept = []
    last = 0
    for match in _BRACKETS.finditer(text):
        kind = _classify(match.group(1))
        if kind is None:
            continue
        kept.append(text[last : match.start()])
        last = match.end()
        distinct |= kind[0]
        neutral = neutral or kind[1]
    kept.append(text[last:])
    text = " ".join(kept)
    while True:  # "Song - Live at Wembley", "Song - 2011 Remaster"
        dash = _DASH_SUFFIX.search(text)
        if dash is None:
            break
        kind = _classify(dash.group(1))
        if kind is None:
            break
        text = text[: dash.start()]
        distinct |= kind[0]
        neutral = neutral or kind[1]
    base = fold(text)
    if not base:  # a title that is only a bracket, e.g. "(Untitled)"
        base = fold(title)
    # Version words outside brackets count too ("Blue Monday Club 69 Mix" vs "Blue Monday (Club 69 Mix)").
    distinct |= {word for word in base.split() if word in DISTINCT}
    return base, " ".join(sorted(distinct)), neutral


_LEADING_NUMBER = re.compile(r"^\s*(\d{1,3})\s*[-–.]\s*(?=\S)")
_DASHES = (" - ", " – ", " — ")
_TRAILING_BRACKET = re.compile(r"\s*[\(\[]([^\(\)\[\]]+)[\)\]]\s*$")


def strip_track_number(title: str, track_number: int | None = None) -> str:
    """ "01 - Song", "002-Song" -> "Song" (zero-padded, or equal to the track number)."""
    match = _LEADING_NUMBER.match(title)
    if match is None:
        return title
    digits = match.group(1)
    if digits.startswith("0") or (track_number is not None and int(digits) == track_number):
        return title[match.end() :]
    return title


def title_variants(title: str) -> tuple[str, ...]:
    """The title, then what it is without a trailing " - suffix" or "(suffix)" (an album, a venue...)."""
    variants = [title]
    for separator in _DASHES:
        if separator in title:
            variants.append(title.rsplit(separator, 1)[0])
            break
    bracket = _TRAILING_BRACKET.search(title)
    if bracket is not None and bracket.start() > 0:
        variants.append(title[: bracket.start()])
    if len(variants) == 1:  # most titles
        return (title,) if title.strip() else ()
    return tuple(dict.fromkeys(v for v in variants if v.strip()))


def title_suffixes(title: str) -> list[str]:
    """What may follow a title after a dash or in a trailing bracket (an album, a venue...).

    Every part after a dash counts ("Song - Live - In Berlin" gives "Live - In Berlin" and
    "In Berlin"); at most four.
    """
    names: list[str] = []
    for separator in _DASHES:
        parts = title.split(separator)
        names.extend(separator.join(parts[i:]) for i in range(1, len(parts)))
    bracket = _TRAILING_BRACKET.search(title)
    if bracket is not None and bracket.start() > 0:
        names.append(bracket.group(1))
    return [n.strip() for n in names if n.strip()][:4]


def split_folded_artist(title: str) -> tuple[str, str] | None:
    """("Artist", "Title") when a title reads "Artist - Title", else None."""
    for separator in _DASHES:
        if separator in title:
            artist, _, rest = title.partition(separator)
            if artist.strip() and rest.strip():
                return artist.strip(), rest.strip()
    return None
