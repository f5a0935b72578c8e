"""The demo library plus what the browser tests need: proposals to review and a hostile name."""

from __future__ import annotations

import json
from pathlib import Path

from soulsync_idmap.demo.demo_library import write_demo_libraries

HOSTILE = '<script>document.title="pwned"</script><b>Bold & Co</b>'
# (title, seconds on Plex, seconds on Jellyfin): a re-encode with a longer fade-out each, so review
EXTRA = [("Angel", 379, 391), ("Risingson", 298, 310), ("Teardrop", 330, 342), ("Inertia Creeps", 356, 368)]


def write_libraries(folder: Path) -> tuple[Path, Path]:
    plex, jelly = write_demo_libraries(folder)
    plex_rows = [
        {"kind": "artist", "id": "9001", "name": "Massive Attack"},
        {"kind": "album", "id": "9002", "name": "Mezzanine", "artist_id": "9001", "year": 1998},
        {"kind": "artist", "id": "9101", "name": HOSTILE},
        {"kind": "album", "id": "9102", "name": HOSTILE, "artist_id": "9101", "year": 2020},
        {"kind": "track", "id": "9103", "name": HOSTILE, "artist_id": "9101", "album_id": "9102", "track_number": 1,
         "duration_ms": 200_000, "path": "/music/hostile/01.flac"},
    ]  # fmt: skip
    jelly_rows = [
        {"kind": "artist", "id": "ma-artist", "name": "Massive Attack"},
        {"kind": "album", "id": "ma-album", "name": "Mezzanine", "artist_id": "ma-artist", "year": 1998},
    ]
    for number, (title, plex_s, jelly_s) in enumerate(EXTRA, start=1):
        plex_rows.append({"kind": "track", "id": str(9010 + number), "name": title, "artist_id": "9001",
                          "album_id": "9002", "track_number": number, "duration_ms": plex_s * 1000, "year": 1998,
                          "path": f"/music/Massive Attack/Mezzanine/{number:02d} {title}.flac"})  # fmt: skip
        jelly_rows.append({"kind": "track", "id": f"ma-{number}", "name": title, "artist_id": "ma-artist",
                           "album_id": "ma-album", "track_number": number, "duration_ms": jelly_s * 1000,
                           "year": 1998, "path": f"/data/re-encoded/{number:02d} {title}.flac"})  # fmt: skip
    for path, rows in ((plex, plex_rows), (jelly, jelly_rows)):
        with path.open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in rows)
    return plex, jelly
