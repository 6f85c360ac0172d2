"""AKD / AED_id / CSIM-dlib / jitter on real photos with dlib (68 landmarks, 128-D identity)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.transform import rotate

from synergywarp.metrics import FaceAnalyzer, aed_id, akd, csim, landmark_jitter
from synergywarp.metrics.preprocess import image_to_eval_uint8


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def face(astronaut_face_rgb) -> np.ndarray:
    """256×256×3 uint8 astronaut face crop."""
    return image_to_eval_uint8(astronaut_face_rgb)


@pytest.mark.slow
def test_akd_is_zero_for_identical_frames_and_counts_missing_faces(analyzer, face):
    blank = np.full_like(face, 128)
    outputs = analyzer.analyze_batch([face, face.copy(), blank], descriptor=False)
    targets = analyzer.analyze_batch([face, face, face], descriptor=False)
    result = akd(outputs, targets)
    assert outputs[0].landmarks.shape == (68, 2) and not outputs[2].found
    assert result.value == 0.0 and result.num_counted == 2 and result.num_skipped == 1
    assert np.isnan(result.per_item[2]) and result.name == "AKD"


@pytest.mark.slow
@pytest.mark.parametrize("shift", [4, 8])
def test_akd_equals_the_known_translation(analyzer, face, shift):
    base = analyzer.analyze(face, descriptor=False)
    right = analyzer.analyze(np.roll(face, shift, axis=1), descriptor=False)
    diagonal = analyzer.analyze(np.roll(face, (shift, shift), axis=(0, 1)), descriptor=False)
    # x moves by `shift`, y by 0: the mean over the 68×2 coordinates is shift / 2
    assert akd([right], [base]).value == pytest.approx(shift / 2, abs=0.25)
    assert akd([diagonal], [base]).value == pytest.approx(shift, abs=0.25)
    assert np.mean(right.landmarks[:, 0] - base.landmarks[:, 0]) == pytest.approx(shift, abs=0.3)


@pytest.mark.slow
def test_identity_same_person_variants_beat_a_different_person(analyzer, face, grace_hopper_rgb):
    base = analyzer.analyze(face)
    same_person = [
        face[:, ::-1].copy(),  # flipped
        (rotate(face, 6, mode="edge") * 255).astype(np.uint8),  # re-posed (rolled 6°)
        (face * 0.6).astype(np.uint8),  # relit darker
        np.clip(face * 1.3 + 20, 0, 255).astype(np.uint8),  # relit brighter
    ]
    same = analyzer.analyze_batch(same_person)
    other = analyzer.analyze(grace_hopper_rgb)
    aed_same, aed_other = aed_id(same, [base] * 4), aed_id([other], [base])
    csim_same, csim_other = csim(base, same), csim(base, [other])
    assert aed_same.num_counted == 4 and aed_other.num_counted == 1
    assert np.nanmax(aed_same.per_item) < 0.4 < 0.6 < aed_other.value  # dlib's 0.6 threshold
    assert np.nanmin(csim_same.per_item) > csim_other.value
    assert csim_same.name == "CSIM-dlib" and "128-D" in aed_same.definition
    direct = float(np.linalg.norm(same[0].descriptor - base.descriptor))
    assert aed_same.per_item[0] == pytest.approx(direct)
    cos = same[0].descriptor @ base.descriptor / np.linalg.norm(same[0].descriptor) / np.linalg.norm(base.descriptor)
    assert csim_same.per_item[0] == pytest.approx(cos)


def test_jitter_compares_output_velocity_with_driving_velocity(analyzer, face):
    driving_frames = [np.roll(face, 3 * t, axis=1) for t in range(3)]
    driving = analyzer.analyze_batch(driving_frames, descriptor=False)
    assert landmark_jitter(driving, driving).value == 0.0
    frozen = analyzer.analyze_batch([face] * 3, descriptor=False)
    result = landmark_jitter(frozen, driving)  # the output stands still while the driver moves 3 px/frame
    assert result.num_counted == 2 and result.per_item.shape == (2,)
    assert result.value == pytest.approx(3.0, abs=0.4)


@pytest.mark.slow
def test_analyzer_caches_and_accepts_tensors_of_other_sizes(face, astronaut_face_rgb):
    analyzer = FaceAnalyzer()
    first = analyzer.analyze(face, key=("clip", 0), descriptor=False)
    assert first.descriptor is None and len(analyzer) == 1
    completed = analyzer.analyze(face, key=("clip", 0))
    assert completed.descriptor.shape == (128,) and np.array_equal(completed.landmarks, first.landmarks)
    assert analyzer.analyze(face, key=("clip", 0)) is completed and len(analyzer) == 1
    tensor = torch.from_numpy(astronaut_face_rgb).permute(2, 0, 1)[None].float() / 255  # 1×3×300×300
    from_tensor = analyzer.analyze_batch(tensor, descriptor=False)[0]
    assert np.abs(from_tensor.landmarks - first.landmarks).mean() < 1.0  # same 256² content
