"""Plain-file helpers shared by the writers: hidden temporary siblings, atomic text writes, sha256."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique temporary name in the same folder as `path` (same filesystem → atomic rename)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary sibling and a rename."""
    temporary = temporary_sibling(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
