"""scripts/results_table.py: baselines from the first report, model rows from each, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("scripts/results_table.py")


def _report(folder: Path, values: dict[str, float]) -> str:
    folder.mkdir()
    methods = [{"name": name, "metrics": {"LPIPS": {"value": v}, "PSNR": {"value": 20 + v}}}
               for name, v in values.items()]
    (folder / "metrics.json").write_text(json.dumps({"methods": methods}))
    return str(folder)


def test_rows_come_from_the_right_reports(tmp_path, capsys, script):
    a = _report(tmp_path / "a", {"static": 0.3, "geometric": 0.2, "full@2": 0.1})
    b = _report(tmp_path / "b", {"static": 9.0, "full@2": 0.15})
    assert script.main([f"v2={a}", f"v1={b}", "--baselines", "static,geometric", "--methods", "full@2",
                           "--metrics", "LPIPS,PSNR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| method | LPIPS ↓ | PSNR ↑ |"
    assert lines[2:] == ["| static | 0.3000 | 20.30 |", "| geometric | 0.2000 | 20.20 |",
                         "| v2: full@2 | 0.1000 | 20.10 |", "| v1: full@2 | 0.1500 | 20.15 |"]


def test_a_missing_report_is_one_line(tmp_path, script):
    with pytest.raises(SystemExit, match="no evaluation report at"):
        script.main([f"x={tmp_path}"])
