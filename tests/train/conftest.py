"""Fixtures of the trainer tests (the data generators live in train_helpers.py)."""

from __future__ import annotations

import pytest
import torch
from train_helpers import BlobClips


@pytest.fixture(scope="session")
def blob_clips() -> BlobClips:
    return BlobClips()


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test (tiny convolutions contend on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
