"""The default framing of the face crop, shared by :mod:`synergywarp.face` (which cuts the crops), the
dataset tools and the animation options. Dependency-free, like :mod:`synergywarp.tracked_keypoints`, so
that building the command line's parser imports no image library."""

from __future__ import annotations

DEFAULT_SCALE = 1.9  # crop side / the side of the landmarks' bounding box
DEFAULT_VY = -0.06  # shift of the crop centre down, as a fraction of the side (negative = up)
