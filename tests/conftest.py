"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _deterministic_torch():
    """Every test starts from the same RNG state and a modest thread count."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test (tiny convolutions contend on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
