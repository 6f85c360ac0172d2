"""Fixtures of the trainer tests (the data generators live in train_helpers.py)."""

from __future__ import annotations

import pytest
from train_helpers import BlobClips


@pytest.fixture(scope="session")
def blob_clips() -> BlobClips:
    return BlobClips()
