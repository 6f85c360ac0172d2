"""`synergywarp --help` is fast: building the parser imports neither torch nor numpy (lazy packages)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

import pytest

LAZY_PACKAGES = ("synergywarp.data", "synergywarp.inference", "synergywarp.metrics", "synergywarp.train")
HELP_SECONDS = 0.5  # the target on an idle machine
CI_SLACK = 3.0  # shared CI runners: a process start may stall; torch alone takes ~2 s to import


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_building_the_parser_imports_neither_torch_nor_numpy():
    probe = _python(
        "import sys\n"
        "from synergywarp.cli import build_parser\n"
        "parser = build_parser()\n"
        "assert parser.parse_args(['animate', '--source', 's.jpg', '--driving', 'd.mp4', '--out', 'o.mp4'])\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'cv2', 'av', 'PIL') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')\n"
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "none"


def test_help_is_fast():
    best = float("inf")
    for _ in range(3):  # best of three: the first start may pay for a cold file cache
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "synergywarp", "--help"], capture_output=True, text=True,
                                timeout=120)
        best = min(best, time.perf_counter() - start)
        assert result.returncode == 0 and "animate" in result.stdout, result.stderr
    assert best < HELP_SECONDS * CI_SLACK, f"synergywarp --help took {best:.2f} s (target {HELP_SECONDS} s)"


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_packages_export_every_name(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no attribute"):
        module.not_a_name  # noqa: B018
