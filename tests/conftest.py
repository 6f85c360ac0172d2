"""Shared pytest fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def repo_script_module():
    """``repo_script_module("benchmarks/x.py")``: a repository script (not a package) imported by path."""

    def load(relative: str) -> ModuleType:
        path = REPO / relative
        name = f"_repo_script_{path.parent.name}_{path.stem}"  # registered: dataclasses look their module up
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return load
