"""Plain-file helpers shared by the writers: hidden temporary siblings, atomic text writes, sha256.

They live in :mod:`synergywarp.atomic` (standard library only, so that every layer, models/ included,
can use them); this module keeps the names where the io users import them.
"""

from __future__ import annotations

from synergywarp.atomic import file_sha256, temporary_sibling, write_text_atomic

__all__ = ["file_sha256", "temporary_sibling", "write_text_atomic"]
