"""Face pipeline: detection, 468-point 3D landmarks, square crops, head pose, tracked keypoints.

mediapipe and dlib are imported lazily (only when a face is searched), so importing this package
is cheap. Conventions (docs/CONTRACTS.md#crop-normalised-coordinates): images H×W×3 uint8 RGB; pixel
coordinates continuous with the
origin at the top-left edge; crop-normalised coordinates x, y in [−1, 1] edge to edge, z on x's
scale, "right-down-in"; ``p_obs = s·R·p_can + t`` with ``R = Rz(roll)·Ry(yaw)·Rx(pitch)``.
"""

from synergywarp.face.crop import (
    DEFAULT_SCALE,
    DEFAULT_VY,
    CropTransform,
    apply_crop,
    crop_from_landmarks,
    crop_from_params,
    eye_line_angle,
    from_crop_coords,
    paste_back,
    stable_video_crops,
    to_crop_coords,
)
from synergywarp.face.detect import detect_faces
from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.landmarks import LandmarkDetector, detect_landmarks
from synergywarp.face.pose import (
    CANONICAL_FACE,
    CANONICAL_UV,
    FACE_TRIANGLES,
    RIGID_LANDMARK_INDICES,
    HeadPose,
    euler_from_rotation,
    fit_head_pose,
    fit_head_poses,
    rotation_from_euler,
    umeyama,
)
from synergywarp.face.types import FaceBox, FaceLandmarks

__all__ = [
    "CANONICAL_FACE",
    "CANONICAL_UV",
    "DEFAULT_SCALE",
    "DEFAULT_VY",
    "FACE_TRIANGLES",
    "RIGID_LANDMARK_INDICES",
    "CropTransform",
    "FaceBox",
    "FaceLandmarks",
    "HeadPose",
    "LandmarkDetector",
    "apply_crop",
    "crop_from_landmarks",
    "crop_from_params",
    "detect_faces",
    "detect_landmarks",
    "euler_from_rotation",
    "eye_line_angle",
    "fit_head_pose",
    "fit_head_poses",
    "from_crop_coords",
    "paste_back",
    "rotation_from_euler",
    "stable_video_crops",
    "to_crop_coords",
    "tracked_keypoints",
    "umeyama",
]
