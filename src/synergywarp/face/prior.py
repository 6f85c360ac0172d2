"""The geometric prior warp of a source: one object per source, grids or images for any target.

Two kinds (a model's ``warp.dense_motion.prior_kind`` names the one it was trained with):

- ``mesh``: the ring mesh of :mod:`synergywarp.face.mesh_warp` (face mesh + support rings that carry
  60/30/10 % of the silhouette's motion; the background, and much of the hair, held still);
- ``head``: the whole-head warp of :mod:`synergywarp.face.head_warp` (face mesh, hair/ears/neck rigid
  with the head by the person mask, revealed background filled from beside the head).

Per-source work (head mesh, person mask, still map) is done once; the still map is prepared per
grid size on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from synergywarp.errors import InputError
from synergywarp.face.head_mesh import build_head_mesh
from synergywarp.face.head_warp import HeadWarpSource, head_warp_maps, maps_to_grid, prepare_head_warp
from synergywarp.face.mesh_warp import mesh_warp_grid, mesh_warp_maps

PriorKind = Literal["mesh", "head"]
PRIOR_KINDS: tuple[str, ...] = ("mesh", "head")
#: the smallest side prior grids are computed at, whatever the network's size (see :func:`prior_grid_size`)
MIN_PRIOR_SIZE = 128


def prior_grid_size(network_size: int) -> int:
    """Side of the prior (and reference) grids handed to a network of ``network_size``²: its own size,
    but at least :data:`MIN_PRIOR_SIZE`. The network area-averages the grid to its motion volume, while
    the rendering upsamples it to the output size: a mesh-boundary pixel that samples far away (the jaw
    seam of the face mesh and the rigid head) becomes a 4×4 blob at 256² from a 64² grid, 2×2 from 128²."""
    return max(int(network_size), MIN_PRIOR_SIZE)


def _finite_landmarks(landmarks: np.ndarray, what: str) -> np.ndarray:
    """468×3 float32 landmarks, or InputError naming ``what`` when any is NaN or infinite (the warp would be)."""
    points = np.asarray(landmarks, np.float32)
    if not np.isfinite(points).all():
        raise InputError(f"the {what} face's landmarks are not finite (NaN or infinite); track the face again")
    return points


class PriorWarp:
    """The prior warp of one source.

    ``landmarks``: the source's 468×3 crop-normalised landmarks; ``image``: its crop (H×W×3 uint8,
    needed by ``head`` for the person mask unless ``person`` H×W float in [0, 1] is given)."""

    def __init__(self, kind: PriorKind, landmarks: np.ndarray, image: np.ndarray | None = None,
                 person: np.ndarray | None = None) -> None:
        if kind not in PRIOR_KINDS:
            raise ValueError(f"prior kind must be one of {', '.join(PRIOR_KINDS)}, got {kind!r}")
        self.kind = kind
        self.landmarks = _finite_landmarks(landmarks, "source")
        self._mesh = build_head_mesh(self.landmarks) if kind == "mesh" else None
        self._person: np.ndarray | None = None
        self._heads: dict[int, HeadWarpSource] = {}
        if kind == "head":
            if person is None:
                if image is None:
                    raise ValueError("the head prior needs the source image or its person mask")
                from synergywarp.face.segment import person_mask

                person = person_mask(image)
            self._person = np.asarray(person, np.float32)

    def _head(self, size: int) -> HeadWarpSource:
        if size not in self._heads:
            person = self._person
            assert person is not None  # set for the head prior, the only one with head warps
            if person.shape != (size, size):
                person = cv2.resize(person, (size, size), interpolation=cv2.INTER_AREA if size < person.shape[0]
                                    else cv2.INTER_LINEAR)
            self._heads[size] = prepare_head_warp(self.landmarks, person)
        return self._heads[size]

    def maps(self, target: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """OpenCV remap maps (two size×size float32) to 468×3 ``target`` landmarks."""
        target = _finite_landmarks(target, "target")
        if self.kind == "mesh":
            return mesh_warp_maps(self.landmarks, target, size, self._mesh)
        return head_warp_maps(self._head(size), target)

    def grid(self, target: np.ndarray, size: int) -> np.ndarray:
        """size×size×2 float32 backward grid for ``grid_sample`` (align_corners=False)."""
        target = _finite_landmarks(target, "target")
        if self.kind == "mesh":
            return mesh_warp_grid(self.landmarks, target, size, self._mesh)
        return maps_to_grid(*head_warp_maps(self._head(size), target))

    def grids(self, targets: np.ndarray, size: int) -> np.ndarray:
        """T×size×size×2 grids for T×468×3 targets."""
        return np.stack([self.grid(t, size) for t in np.asarray(targets)])

    @classmethod
    def for_references(cls, kind: PriorKind, landmarks: Sequence[np.ndarray],
                       images: Sequence[np.ndarray | None]) -> list[PriorWarp]:
        """One warp per reference photo (``cgf.reference_warp``): ``landmarks`` its 468×3 landmarks,
        ``images`` its crop (needed by ``head`` for the person mask, ignored by ``mesh``)."""
        if len(landmarks) != len(images):
            raise ValueError(f"{len(landmarks)} reference landmark sets for {len(images)} images")
        return [cls(kind, lm, image if kind == "head" else None) for lm, image in zip(landmarks, images)]

    def warp_image(self, image: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The source crop ``image`` (S×S×3 uint8) warped to ``target`` at its own size."""
        map_x, map_y = self.maps(target, image.shape[0])
        warped = cv2.remap(image.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        return np.clip(np.rint(warped), 0, 255).astype(np.uint8)


def warp_grids(warps: Sequence[PriorWarp], targets: np.ndarray, size: int) -> np.ndarray:
    """K×T×size×size×2 grids of K warps (the prior, the references) to T×468×3 ``targets``, target by
    target: every warp of one target in a row, so they share its face-mesh rasterisation
    (:func:`synergywarp.face.mesh_render.rasterise_triangle_ids` keeps only the last few)."""
    targets = np.asarray(targets)
    grids = np.empty((len(warps), len(targets), size, size, 2), np.float32)
    for t, target in enumerate(targets):
        for k, warp in enumerate(warps):
            grids[k, t] = warp.grid(target, size)
    return grids


def prior_and_reference_grids(prior: PriorWarp | None, references: Sequence[PriorWarp] | None,
                              targets: np.ndarray, size: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The network's per-frame grids for T×468×3 ``targets``: (T×size×size×2 prior grids, T×R×size×size×2
    reference grids), each None without its warps; built by :func:`warp_grids` (shared rasterisations)."""
    priors = [prior] if prior is not None else []
    if not priors and references is None:
        return None, None
    grids = warp_grids([*priors, *(references or [])], targets, size)
    prior_grids = grids[0] if priors else None
    reference_grids = np.ascontiguousarray(grids[len(priors):].swapaxes(0, 1)) if references is not None else None
    return prior_grids, reference_grids

