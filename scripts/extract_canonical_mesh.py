"""Extract mediapipe's canonical face mesh into ``src/synergywarp/face/assets/canonical_face_mesh.npz``.

The mesh (468 vertices, 898 triangles) and the Procrustes landmark weights are not in the
mediapipe wheel; they live in the npm package ``@mediapipe/face_mesh`` (Apache-2.0), inside
``face_mesh_solution_packed_assets.data``, whose file table is in
``face_mesh_solution_packed_assets_loader.js``. The embedded
``geometry_pipeline_metadata_landmarks.binarypb`` is a ``GeometryPipelineMetadata`` protobuf.

Usage::

    python scripts/extract_canonical_mesh.py                 # runs `npm pack @mediapipe/face_mesh`
    python scripts/extract_canonical_mesh.py --package DIR   # an unpacked npm package folder
    python scripts/extract_canonical_mesh.py --package FILE.tgz

Output frame (docs/CONTRACTS.md#head-pose-and-the-canonical-face, "right-down-in"): x to the image right, y
down, z into the screen.
mediapipe's metric canonical model is in centimetres with y up and z toward the viewer, so
(x, y, z) -> (x, -y, -z) (a proper rotation, triangle winding kept), then the vertex centroid is
moved to the origin and everything is divided by the x extent, so x spans [-0.5, 0.5].
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

METADATA_NAME = "geometry_pipeline_metadata_landmarks.binarypb"
DATA_NAME = "face_mesh_solution_packed_assets.data"
LOADER_NAME = "face_mesh_solution_packed_assets_loader.js"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/synergywarp/face/assets/canonical_face_mesh.npz"


def _package_dir(package: Path | None, workdir: Path) -> Path:
    """Folder holding the npm package's files (packs or unpacks as needed)."""
    if package is None:
        subprocess.run(["npm", "pack", "@mediapipe/face_mesh"], cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL)
        package = next(workdir.glob("mediapipe-face_mesh-*.tgz"))
    if package.is_dir():
        return package
    with tarfile.open(package) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def read_metadata_bytes(package_dir: Path) -> bytes:
    """The embedded binarypb, located through the loader's file table."""
    loader = (package_dir / LOADER_NAME).read_text()
    pattern = r'"filename":\s*"([^"]*)",\s*"start":\s*(\d+),\s*"end":\s*(\d+)'
    for filename, start, end in re.findall(pattern, loader):
        if filename.endswith(METADATA_NAME):
            return (package_dir / DATA_NAME).read_bytes()[int(start):int(end)]
    raise SystemExit(f"{METADATA_NAME} not listed in {package_dir / LOADER_NAME}")


def convert(metadata_bytes: bytes) -> dict[str, np.ndarray]:
    """Parse the protobuf and return the arrays stored in the npz."""
    from mediapipe.modules.face_geometry.protos import geometry_pipeline_metadata_pb2

    metadata = geometry_pipeline_metadata_pb2.GeometryPipelineMetadata()
    metadata.ParseFromString(metadata_bytes)
    mesh = metadata.canonical_mesh
    buffer = np.asarray(mesh.vertex_buffer, dtype=np.float64).reshape(-1, 5)  # x y z u v
    metric = buffer[:, :3] * np.array([1.0, -1.0, -1.0])
    vertices = metric - metric.mean(axis=0)
    vertices /= np.ptp(vertices[:, 0])
    triangles = np.asarray(mesh.index_buffer, dtype=np.int32).reshape(-1, 3)
    basis = sorted((b.landmark_id, b.weight) for b in metadata.procrustes_landmark_basis)
    assert vertices.shape == (468, 3) and triangles.shape == (898, 3), (vertices.shape, triangles.shape)
    return {
        "vertices": vertices.astype(np.float32),
        "triangles": triangles,
        "uv": buffer[:, 3:].astype(np.float32),
        "procrustes_indices": np.array([i for i, _ in basis], dtype=np.int32),
        "procrustes_weights": np.array([w for _, w in basis], dtype=np.float32),
        "metric_scale_cm": np.float32(np.ptp(metric[:, 0])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=None, help="npm package folder or .tgz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        arrays = convert(read_metadata_bytes(_package_dir(args.package, Path(tmp))))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {arrays['vertices'].shape[0]} vertices, {arrays['triangles'].shape[0]} triangles")


if __name__ == "__main__":
    main()
