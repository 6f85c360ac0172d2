"""Fixtures of the reliability tests: the hostile-input corpus, a fast CLI runner, snapshots of inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hostile_corpus import Corpus, build_corpus
from reliability_checks import snapshot
from reliability_runner import CliRunner

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "train"))  # train_helpers.write_blob_dataset, shared with the trainer tests
sys.path.insert(0, str(TESTS / "io"))  # io_media's hostile videos, shared with the io tests


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Corpus:
    """Every hostile input, made once (read-only for the tests: each test checks it is unchanged)."""
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def cli(tmp_path_factory) -> CliRunner:
    """Runs ``synergywarp`` command lines, each in its own process (see reliability_runner)."""
    return CliRunner(tmp_path_factory.mktemp("cli_logs"))


@pytest.fixture
def unchanged(corpus):
    """Asserts after the test that no corpus file was modified, removed or added."""
    before = snapshot(corpus.root)
    yield
    assert snapshot(corpus.root) == before
