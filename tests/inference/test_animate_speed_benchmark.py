"""benchmarks/animate_speed.py times the real pipeline per output size and number of references."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "animate_speed.py"


def _script():
    spec = importlib.util.spec_from_file_location("animate_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("size", "refs"), [(96, 0), (160, 2)])
def test_rows_record_the_size_and_references_they_timed(size, refs):
    row = _script().run("tiny_tracked_head", "fp32", 3, None, size, refs)
    assert row["output_size"] == size and row["references"] == refs and row["frames"] == 3
    assert row["fps"] > 0 and row["ms_model"] > 0 and row["ms_tracking"] > 0
    assert row["ms_other"] > -1.0  # the stages add up to at most the measured time (timer noise aside)
