"""Real test images from installed packages (public domain): astronaut (skimage), Grace Hopper (matplotlib)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image
from skimage.data import astronaut


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """512×512×3 uint8."""
    return astronaut()


@pytest.fixture(scope="session")
def astronaut_face_rgb() -> np.ndarray:
    """300×300×3 uint8 crop around the astronaut's face (the face fills ~30% of the width)."""
    return np.ascontiguousarray(astronaut()[0:300, 60:360])


@pytest.fixture(scope="session")
def grace_hopper_rgb() -> np.ndarray:
    """400×400×3 uint8 square crop around Grace Hopper's face."""
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[40:440, 56:456])
