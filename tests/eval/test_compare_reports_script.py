"""``scripts/compare_reports.py``: paired differences between two eval reports, clip-bootstrap intervals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

COLUMNS = ["protocol", "method", "source_clip", "source_frame", "driving_clip", "frame", "L1", "LPIPS", "PSNR", "AKD"]


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("scripts/compare_reports.py")


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "per_frame.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _report(folder: Path, lpips: np.ndarray, method: str = "full@2", psnr: np.ndarray | None = None,
            akd_missing: int = -1) -> Path:
    """``lpips``: clips × frames values; L1 = LPIPS / 4; PSNR given or 30; AKD empty on one frame."""
    rows = []
    for c, clip in enumerate(lpips):
        for f, value in enumerate(clip):
            rows.append({"protocol": "self", "method": method, "source_clip": f"c{c}", "source_frame": 0,
                         "driving_clip": f"c{c}", "frame": f, "L1": value / 4, "LPIPS": value,
                         "PSNR": psnr[c, f] if psnr is not None else 30.0,
                         "AKD": "" if (c, f) == (0, akd_missing) else 1.0})
    return _write(folder, rows)


def test_a_consistent_gain_is_found_and_noise_is_not(script, tmp_path):
    rng = np.random.default_rng(0)
    base = 0.08 + 0.02 * rng.random((10, 8))
    a = _report(tmp_path / "a", base)
    better = _report(tmp_path / "b", base - 0.005 + 0.001 * rng.standard_normal(base.shape))
    noisy = _report(tmp_path / "n", base + 0.01 * rng.standard_normal(base.shape))
    found = {r.metric: r for r in script.compare(a, better, ["full@2"], ["LPIPS", "L1"])}
    assert found["LPIPS"].difference == pytest.approx(-0.005, abs=1e-3) and found["LPIPS"].verdict == "B better"
    assert found["LPIPS"].mean_a == pytest.approx(base.mean()) and found["LPIPS"].frames == 80
    assert found["LPIPS"].clips == 10 and found["L1"].verdict == "B better"
    assert found["LPIPS"].low < found["LPIPS"].difference < found["LPIPS"].high < 0
    unsure = script.compare(a, noisy, None, ["LPIPS"])[0]
    assert unsure.verdict == "–" and unsure.low < 0 < unsure.high
    assert script.compare(better, a, None, ["LPIPS"])[0].verdict == "A better"  # the order matters


def test_higher_is_better_metrics_and_missing_values(script, tmp_path):
    rng = np.random.default_rng(1)
    base = 0.08 + 0.02 * rng.random((6, 5))
    psnr = 28 + rng.random((6, 5))
    a = _report(tmp_path / "a", base, psnr=psnr, akd_missing=2)
    b = _report(tmp_path / "b", base, psnr=psnr + 0.5)
    found = {r.metric: r for r in script.compare(a, b, None, ["PSNR", "AKD"])}
    assert found["PSNR"].verdict == "B better" and found["PSNR"].difference == pytest.approx(0.5)
    assert found["AKD"].frames == 29  # the frame without AKD in A is left out, not read as 0


def test_clip_bootstrap_is_wider_than_a_frame_bootstrap_would_be(script, tmp_path):
    # every clip's frames move together: 4 clips, one of them far off; the interval must reflect 4 clips
    offsets = np.array([-0.004, -0.004, -0.004, 0.010])[:, None] * np.ones((4, 50))
    base = np.full((4, 50), 0.1)
    result = script.compare(_report(tmp_path / "a", base), _report(tmp_path / "b", base + offsets), None,
                            ["LPIPS"])[0]
    assert result.verdict == "–" and result.high - result.low > 0.005


def test_unpairable_reports_are_one_line_errors(script, tmp_path, capsys):
    base = np.full((2, 3), 0.1)
    a = _report(tmp_path / "a", base)
    other = _report(tmp_path / "o", base, method="full@0")
    assert script.main([str(a), str(tmp_path / "missing")]) == 2
    assert "per_frame.csv" in capsys.readouterr().err
    assert script.main([str(a), str(other), "--methods", "full@2"]) == 2  # the rows share no key
    assert "share no scored frame" in capsys.readouterr().err
    assert script.main([str(a), str(a), "--metrics", "FID"]) == 2
    assert "no frame of methods full@2 has FID" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    assert script.main([str(a), str(tmp_path / "bad.csv")]) == 2
    assert "not an eval per-frame table" in capsys.readouterr().err
    assert script.main([str(a), str(a), "--json", str(tmp_path / "out.json")]) == 0
    assert "| full@2 | LPIPS | 0.1000 | 0.1000 | +0.0000 |" in capsys.readouterr().out
    rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [row["verdict"] for row in rows] == ["–"] * 3 and rows[0]["frames"] == 6
