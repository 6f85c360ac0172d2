"""Portraits bundled with the package (public domain; see ``assets/portraits/CREDITS.md``)."""

from __future__ import annotations

from pathlib import Path

from synergywarp.assets import PACKAGE_ASSETS

PORTRAIT_DIR = PACKAGE_ASSETS / "portraits"
BUNDLED_PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg")


def bundled_portrait_paths() -> list[Path]:
    """Paths of the bundled portraits that are present (normally all of ``BUNDLED_PORTRAITS``)."""
    return [PORTRAIT_DIR / name for name in BUNDLED_PORTRAITS if (PORTRAIT_DIR / name).is_file()]
