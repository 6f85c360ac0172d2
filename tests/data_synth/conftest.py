"""Shared fixtures: the bundled astronaut portrait prepared once per session at two sizes."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from synergywarp.data.synth import PhotometricRanges, SynthConfig, prepare_portrait

NO_PHOTOMETRIC = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)


def plain_config(size: int, frames: int = 8, **kwargs) -> SynthConfig:
    """A config without photometric changes or flips (geometry tests)."""
    return SynthConfig(size=size, frames=frames, photometric=NO_PHOTOMETRIC, flip_prob=0.0, **kwargs)


@pytest.fixture(name="plain_config", scope="session")
def plain_config_fixture():
    """The ``plain_config`` factory."""
    return plain_config


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def prepared_large(astronaut):
    """Prepared at 224² (for re-detection with mediapipe and dlib)."""
    return prepare_portrait(astronaut, plain_config(224), identity="astronaut")


@pytest.fixture(scope="session")
def prepared_small(astronaut):
    """Prepared at 64²."""
    return prepare_portrait(astronaut, plain_config(64), identity="astronaut")
