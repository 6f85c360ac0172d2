"""benchmarks/animate_speed.py times the real pipeline per output size and number of references."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("benchmarks/animate_speed.py")


@pytest.mark.parametrize(("size", "refs"), [(96, 0), (160, 2)])
def test_rows_record_the_size_and_references_they_timed(size, refs, script):
    row = script.run("tiny_tracked_head", "fp32", 3, None, size, refs)
    assert row["output_size"] == size and row["references"] == refs and row["frames"] == 3
    assert row["fps"] > 0 and row["ms_model"] > 0 and row["ms_tracking"] > 0
    assert row["ms_other"] > -1.0  # the stages add up to at most the measured time (timer noise aside)
