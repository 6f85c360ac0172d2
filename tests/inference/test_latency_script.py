"""scripts/gpu/latency_lp256.py on the CPU with the tiny config: rows, skipped modes and the hard stop."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("scripts/gpu/latency_lp256.py")


def test_latency_script_measures_on_cpu_and_records_what_it_cannot_run(tmp_path, script):
    out = tmp_path / "latency.json"
    assert script.main(["--device", "cpu", "--tiny", "--paths", "explicit", "--dtypes", "fp32", "--modes", "eager",
                           "graph", "--batches", "2", "--iters", "2", "--warmup", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"] == "tiny" and result["stopped"] is None
    rows = {(r["batch"], r["mode"]): r for r in result["rows"]}
    assert set(rows) == {(1, "eager"), (1, "graph"), (2, "eager"), (2, "graph")}
    assert rows[(1, "eager")]["ms_per_frame"] > 0 and rows[(2, "eager")]["frames_per_s"] > 0
    assert "CUDA" in rows[(1, "graph")]["skipped"] and "ms_per_frame" not in rows[(1, "graph")]
    assert result["targets"] == {"batch1_ms": 8.0, "batched_fps": 150.0}


@pytest.mark.slow
def test_latency_script_stops_at_its_wall_clock_limit_and_keeps_the_json(tmp_path, script):
    out = tmp_path / "latency.json"
    start = time.monotonic()
    assert script.main(["--device", "cpu", "--tiny", "--dtypes", "fp32", "--modes", "eager", "--iters", "100000",
                           "--max-seconds", "1.5", "--out", str(out)]) == 0
    assert time.monotonic() - start < 30
    result = json.loads(out.read_text())
    assert "wall-clock limit" in result["stopped"] and result["wall_s"] < 30
    assert not any(r.get("batch", 1) > 1 for r in result["rows"])  # the batched rows never started
