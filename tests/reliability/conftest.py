"""Fixtures of the reliability tests: the hostile-input corpus, a fast CLI runner, snapshots of inputs."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from hostile_corpus import Corpus, build_corpus
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


@pytest.fixture
def unchanged(corpus):
    """Asserts after the test that no corpus file was modified, removed or added."""
    before = snapshot(corpus.root)
    yield
    assert snapshot(corpus.root) == before
