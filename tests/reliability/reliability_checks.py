"""Assertions of the reliability tests: one error line, files unchanged, no temporaries left."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """{relative path: (mode, sha1)} of every file below ``folder`` (symlinks by their target text)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            state[key] = (0, str(path.readlink()))
        elif path.is_file():
            state[key] = (path.stat().st_mode, hashlib.sha1(path.read_bytes()).hexdigest())
        elif path.is_dir():
            state[key] = (path.stat().st_mode, "")
    return state


def leftovers(folder: Path) -> list[str]:
    """Temporary files of ours (hidden ``.part``/``.tmp`` names, ``.tmp-step_*`` folders) below ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*")
                  if p.name.endswith((".part", ".tmp")) or p.name.startswith((".tmp-", ".old-")))


def assert_one_error(result, *fragments: str) -> str:
    """Exit 1, exactly one ``error:`` line holding every fragment, no traceback, no native log lines."""
    err = result.stderr
    assert result.returncode == 1, f"exit {result.returncode}\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert len(result.error_lines) == 1, err[-3000:]
    line = result.error_lines[0]
    for fragment in fragments:
        assert fragment in line, line
    assert not any(token in err for token in ("W0000", "I0000", "inference_feedback_manager")), err
    assert "RuntimeWarning" not in err, err
    return line
