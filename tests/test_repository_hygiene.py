"""Committed text stays honest: every design-doc citation names a real section, and no committed doc or
result carries an absolute path of the machine it was made on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CITATION = re.compile(r"(?:docs/)?(DESIGN|CONTRACTS)\.md#([\w-]+)")
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root)/")


def _tracked(*patterns: str) -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.stdout.splitlines() if (ROOT / name).is_file()]


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    anchors = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_design_citation_names_a_real_section():
    anchors = {name: _anchors(ROOT / "docs" / f"{name}.md") for name in ("DESIGN", "CONTRACTS")}
    files = _tracked("*.py", "*.md", "*.yaml", "*.sh")
    cited, bad, stale = 0, [], []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name != Path(__file__).name and "SPEC §" in text:
            stale.append(str(path.relative_to(ROOT)))
        for match in CITATION.finditer(text):
            cited += 1
            if match.group(2) not in anchors[match.group(1)]:
                bad.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not stale, f"cite docs/DESIGN.md or docs/CONTRACTS.md sections, not the SPEC: {stale}"
    assert not bad, bad
    assert cited >= 30


def test_committed_docs_and_results_have_no_machine_paths():
    found = []
    for path in _tracked("docs", "benchmarks", "README.md"):
        if path.suffix in (".png", ".jpg", ".mp4", ".safetensors"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert not found, found
