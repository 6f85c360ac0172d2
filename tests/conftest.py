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
