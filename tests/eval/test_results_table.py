"""scripts/results_table.py: baselines from the first report, model rows from each, one-line errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "results_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("results_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(folder: Path, values: dict[str, float]) -> str:
    folder.mkdir()
    methods = [{"name": name, "metrics": {"LPIPS": {"value": v}, "PSNR": {"value": 20 + v}}}
               for name, v in values.items()]
    (folder / "metrics.json").write_text(json.dumps({"methods": methods}))
    return str(folder)


def test_rows_come_from_the_right_reports(tmp_path, capsys):
    a = _report(tmp_path / "a", {"static": 0.3, "geometric": 0.2, "full@2": 0.1})
    b = _report(tmp_path / "b", {"static": 9.0, "full@2": 0.15})
    assert _script().main([f"v2={a}", f"v1={b}", "--baselines", "static,geometric", "--methods", "full@2",
                           "--metrics", "LPIPS,PSNR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| method | LPIPS ↓ | PSNR ↑ |"
    assert lines[2:] == ["| static | 0.3000 | 20.30 |", "| geometric | 0.2000 | 20.20 |",
                         "| v2: full@2 | 0.1000 | 20.10 |", "| v1: full@2 | 0.1500 | 20.15 |"]


def test_a_missing_report_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no evaluation report at"):
        _script().main([f"x={tmp_path}"])
