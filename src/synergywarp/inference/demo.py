"""The offline demo's inputs (``synergywarp demo``) and how they were made.

Bundled under ``synergywarp/assets``: the source portrait ``portraits/grace_hopper.jpg`` (US Navy,
public domain), ``demo/driving.mp4`` (Eileen Collins, ``portraits/astronaut.jpg``, NASA, public
domain, moved by the synthetic engine: 128², 25 fps) and ``demo/references/*.jpg`` (Grace Hopper
re-posed, mirrored and relit by the synthetic engine). :func:`build_demo_assets` regenerates them:
``python -m synergywarp.inference.demo``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synergywarp.assets import PACKAGE_ASSETS
from synergywarp.errors import AssetError

ASSETS = PACKAGE_ASSETS
DEMO_DIR = ASSETS / "demo"
DEMO_SOURCE = ASSETS / "portraits" / "grace_hopper.jpg"
DEMO_DRIVING = DEMO_DIR / "driving.mp4"
DEMO_REFERENCES = DEMO_DIR / "references"
DRIVING_PORTRAIT = ASSETS / "portraits" / "astronaut.jpg"


def demo_inputs() -> tuple[Path, list[Path], Path]:
    """(source portrait, reference images, driving clip); AssetError naming what is missing."""
    references = sorted(DEMO_REFERENCES.glob("*.jpg")) if DEMO_REFERENCES.is_dir() else []
    for path in (DEMO_SOURCE, DEMO_DRIVING):
        if not path.is_file():
            raise AssetError(f"demo asset missing: {path} (reinstall synergywarp or run "
                             "`python -m synergywarp.inference.demo` to rebuild the demo assets)")
    if not references:
        raise AssetError(f"demo references missing in {DEMO_REFERENCES} (run `python -m synergywarp.inference.demo`)")
    return DEMO_SOURCE, references, DEMO_DRIVING


def build_demo_assets(folder: Path = DEMO_DIR, *, frames: int = 60, size: int = 128, seed: int = 7) -> None:
    """Render the driving clip (``frames`` at 25 fps, ``size``²) and three references with the
    synthetic engine (:mod:`synergywarp.data.synth`)."""
    from synergywarp.data.synth import PhotometricRanges, PoseRanges, SynthConfig, prepare_portrait, render_clip
    from synergywarp.data.synth.trajectory import ExpressionStrengths
    from synergywarp.io import VideoWriter, write_image

    folder.mkdir(parents=True, exist_ok=True)
    still = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)
    config = SynthConfig(size=size, frames=frames, fps=25.0, flip_prob=0.0, photometric=still,
                         pose=PoseRanges(yaw=25.0, pitch=12.0, roll=8.0, shift=0.02, zoom=0.03),
                         expression=ExpressionStrengths(mouth_open=0.8, smile=0.6, blink=1.0, eye_wide=0.4,
                                                        brow_raise=0.6))
    driving = render_clip(prepare_portrait(DRIVING_PORTRAIT, config, identity="astronaut"), config, seed=seed)
    with VideoWriter(folder / "driving.mp4", driving.fps, crf=23) as writer:
        writer.write(driving.frames)

    ref_config = SynthConfig(size=256, frames=24, fps=25.0, flip_prob=0.0,
                             pose=PoseRanges(yaw=30.0, pitch=12.0, roll=10.0, shift=0.02, zoom=0.03))
    prepared = prepare_portrait(DEMO_SOURCE, ref_config, identity="grace_hopper")
    refs = folder / "references"
    refs.mkdir(exist_ok=True)
    for index, (clip_seed, frame, mirrored) in enumerate([(11, 20, False), (12, 14, True), (13, 23, False)]):
        clip = render_clip(prepared, ref_config, seed=clip_seed)
        image = clip.frames[frame]
        write_image(refs / f"reference_{index}.jpg", np.ascontiguousarray(image[:, ::-1] if mirrored else image))


if __name__ == "__main__":
    build_demo_assets()
