"""benchmarks/run_all.py: one table from speed, end-to-end animate and eval throughput, written as JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_run_all_writes_every_section(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    out = tmp_path / "bench.json"
    assert run_all.main(["--configs", "tiny", "--refs", "0", "1", "--repeats", "1", "--frames", "4",
                         "--size", "128", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    by_section = {section: [r for r in rows if r["section"] == section] for section in ("speed", "animate", "eval")}
    assert [r["item"] for r in by_section["speed"]] == ["tiny explicit fp32", "tiny full@0 fp32", "tiny full@1 fp32"]
    assert all(r["value"] > 0 for r in by_section["speed"])
    assert [r["item"] for r in by_section["animate"]] == ["end-to-end explicit", "end-to-end full@1"]
    assert all(r["value"] is not None and r["value"] > 0 for r in by_section["animate"])
    cold, warm = by_section["eval"]
    assert cold["value"] > 0 and math.isfinite(warm["value"])
    assert " 0 extracted" in warm["note"] and " 0 extracted" not in cold["note"]
    printed = capsys.readouterr().out
    assert "synergywarp eval (cold cache)" in printed and "end-to-end explicit" in printed


def test_readme_tables_replace_only_their_own_marked_block(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import readme_tables
    finally:
        sys.path.remove(str(BENCHMARKS))
    readme = tmp_path / "README.md"
    a_begin, a_end = readme_tables.markers("a")
    b_begin, b_end = readme_tables.markers("b")
    readme.write_text(f"top\n{a_begin}\nold a\n{a_end}\nmiddle\n{b_begin}\nold b\n{b_end}\nend\n", encoding="utf-8")
    readme_tables.replace_table(readme, "b", "| new b |\n")
    expected = f"top\n{a_begin}\nold a\n{a_end}\nmiddle\n{b_begin}\n| new b |\n{b_end}\nend\n"
    assert readme.read_text(encoding="utf-8") == expected
