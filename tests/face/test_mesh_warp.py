"""The geometric mesh warp as a backward grid (the prior candidate motion) and as an image warp."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synergywarp.face import CANONICAL_FACE
from synergywarp.face.mesh_warp import geometric_warp, mesh_warp_grid

SIZE = 96


def _face() -> np.ndarray:
    """Crop-normalised 468×3 landmarks: the canonical face at 0.8 of the crop."""
    return (CANONICAL_FACE * 0.8).astype(np.float32)


def _texture() -> np.ndarray:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    image = np.stack([xs * 2.5, ys * 2.5, 127 + 100 * np.sin(xs / 5.0) * np.cos(ys / 7.0)], -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _sample(image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    out = F.grid_sample(tensor, torch.from_numpy(grid)[None], mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out[0].permute(1, 2, 0).numpy()


def test_mesh_warp_grid_is_identity_without_motion():
    face = _face()
    grid = mesh_warp_grid(face, face, SIZE)
    centres = (np.arange(SIZE, dtype=np.float32) + 0.5) * 2 / SIZE - 1
    assert grid.shape == (SIZE, SIZE, 2) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[..., 0], np.broadcast_to(centres, (SIZE, SIZE)), atol=1e-4)
    np.testing.assert_allclose(grid[..., 1], np.broadcast_to(centres[:, None], (SIZE, SIZE)), atol=1e-4)


def test_translated_face_samples_the_source_shifted_back_and_background_stays():
    face = _face()
    shift = np.array([0.125, -0.0625, 0.0], np.float32)  # 6 and −3 pixels at 96²
    grid = mesh_warp_grid(face, face + shift, SIZE)
    # inside the face the output samples the source one shift back: grid = identity − shift
    centre = grid[SIZE // 2 - 4: SIZE // 2 + 4, SIZE // 2 - 4: SIZE // 2 + 4]
    identity = mesh_warp_grid(face, face, SIZE)[SIZE // 2 - 4: SIZE // 2 + 4, SIZE // 2 - 4: SIZE // 2 + 4]
    np.testing.assert_allclose(centre - identity, np.broadcast_to(-shift[:2], centre.shape), atol=1e-4)
    # the canvas corners (by the still outer ring) move by well under half a pixel
    corners = grid[[0, 0, -1, -1], [0, -1, 0, -1]]
    np.testing.assert_allclose(np.abs(corners), (SIZE - 1) / SIZE, atol=0.5 * 2 / SIZE)


def test_grid_sampling_matches_the_geometric_warp_image():
    face = _face()
    target = face.copy()
    target[:, 0] += 0.2 * target[:, 1]  # a shear: a non-trivial piecewise-affine map
    image = _texture()
    expected = geometric_warp(image, face, target).astype(np.float32)
    sampled = _sample(image, mesh_warp_grid(face, target, SIZE))
    assert np.abs(sampled - expected).max() <= 2.0  # bilinear rounding of OpenCV's fixed-point remap
    assert np.abs(image.astype(np.float32) - expected).mean() > 3.0  # and the warp did move the face


def test_triangle_affines_map_each_target_triangle_onto_its_source_and_flag_degenerate_ones():
    """Closed-form per-triangle affines: every non-degenerate triangle (either winding) maps its target
    vertices exactly onto its source vertices; collinear or coincident targets are flagged invalid."""
    from synergywarp.face.mesh_render import triangle_affines

    rng = np.random.default_rng(0)
    source = rng.uniform(0, 128, (12, 2))
    target = source + rng.normal(0, 3, (12, 2))
    target[9] = target[8]  # coincident vertices
    target[11] = 0.5 * (target[8] + target[10])  # collinear with 8 and 10
    triangles = np.array([[0, 1, 2], [2, 1, 0], [3, 4, 5], [6, 7, 3], [8, 9, 10], [8, 10, 11]])
    affine, valid = triangle_affines(source, target, triangles)
    assert affine.shape == (6, 2, 3) and affine.dtype == np.float32
    assert valid.tolist() == [True, True, True, True, False, False]
    for index in np.flatnonzero(valid):
        corners = target[triangles[index]]
        mapped = corners @ affine[index, :, :2].T.astype(np.float64) + affine[index, :, 2]
        np.testing.assert_allclose(mapped, source[triangles[index]], atol=1e-3)


def test_rasterisations_are_shared_between_warps_to_the_same_target_and_cannot_be_edited(monkeypatch):
    """Warps of different sources to one target reuse its rasterisation (the same read-only buffer, equal
    to a fresh one); a different target, depth order or size is rasterised anew."""
    import synergywarp.face.mesh_render as mesh_render

    rng = np.random.default_rng(0)
    target = rng.uniform(2, 30, (20, 2))
    depth = rng.uniform(-1, 1, 20)
    triangles = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6], [1, 5, 9], [7, 8, 9]], np.int32)
    valid = np.ones(len(triangles), bool)
    calls = []
    rasterise = mesh_render._rasterise
    monkeypatch.setattr(mesh_render, "_rasterise", lambda *a: calls.append(1) or rasterise(*a))
    mesh_render._raster_cache.clear()
    first = mesh_render.rasterise_triangle_ids(target, depth, triangles, valid, 32, 32)
    again = mesh_render.rasterise_triangle_ids(target.copy(), depth.copy(), triangles, valid, 32, 32)
    assert again is first and len(calls) == 1
    assert np.array_equal(first, rasterise(target, depth, triangles, valid, 32, 32)) and (first >= 0).any()
    try:
        first[0, 0] = 3
        raise AssertionError("a shared rasterisation must be read-only")
    except ValueError:
        pass
    moved = target.copy()
    moved[0] += 0.5
    same_bytes = depth.view(np.int64)  # equal bytes, another dtype: another array
    for args in ((moved, depth, triangles, valid, 32, 32), (target, -depth, triangles, valid, 32, 32),
                 (target, depth, triangles, valid, 32, 40), (target, depth, triangles, ~valid, 32, 32),
                 (target, same_bytes, triangles, valid, 32, 32)):
        mesh_render.rasterise_triangle_ids(*args)
    assert len(calls) == 6
    mesh_render.rasterise_triangle_ids(target, depth, triangles, valid, 32, 32, cache=False)
    assert len(calls) == 7  # the synthetic renderer's path never reuses
    # two sources warped to one target: the second warp rasterises nothing and matches an uncached warp
    source_a, source_b = target + rng.normal(0, 1, target.shape), target * 0.9
    calls.clear()
    map_a = mesh_render.mesh_backward_maps(source_a, target, depth, triangles, 32, 32)
    map_b = mesh_render.mesh_backward_maps(source_b, target, depth, triangles, 32, 32)
    assert len(calls) == 0  # the target was rasterised above
    mesh_render._raster_cache.clear()
    fresh_b = mesh_render.mesh_backward_maps(source_b, target, depth, triangles, 32, 32)
    assert all(np.array_equal(x, y) for x, y in zip(map_b, fresh_b)) and not np.array_equal(map_a[0], map_b[0])
