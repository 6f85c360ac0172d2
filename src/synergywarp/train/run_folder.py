"""The run folder of ``synergywarp train``: checked before any work, never half-replaced.

A folder that already holds a run (checkpoints, the exported model, the log) is continued with
``--resume`` or started over with ``--overwrite`` (which removes that run's files, and only those);
anything else is refused, so a new run never mixes its log with an old run's checkpoints. Temporaries
that a killed run left behind are removed (and a checkpoint moved aside by a killed re-save is put back).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from synergywarp.atomic import check_writable_folder, remove_stale_temporaries
from synergywarp.errors import ConfigError, OutputError

#: what a run writes into its folder (``--overwrite`` removes these and nothing else)
RUN_FILES = ("checkpoints", "model_ema.safetensors", "log.csv", "config.yaml", "tensorboard", "samples")
#: the files that make a folder hold a run
RUN_EVIDENCE = ("checkpoints", "model_ema.safetensors", "log.csv")


def existing_run(run_dir: Path) -> list[str]:
    """The run files (of RUN_EVIDENCE) present in ``run_dir``; an empty checkpoints folder does not count."""
    found = []
    for name in RUN_EVIDENCE:
        path = run_dir / name
        if path.is_dir() and any(p for p in path.iterdir() if not p.name.startswith(".")):
            found.append(name + "/")
        elif path.is_file():
            found.append(name)
    return found


def check_run_folder(run_dir: Path, *, resume: bool, overwrite: bool) -> Path:
    """ConfigError/OutputError (one line) unless ``run_dir`` can be written and its contents fit the
    request: a new or empty folder, or an existing run with ``resume`` or ``overwrite``."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other (continue the run, or start it over)")
    check_writable_folder(run_dir, "run")
    found = existing_run(run_dir) if run_dir.is_dir() else []
    if found and not (resume or overwrite):
        raise OutputError(f"run folder {run_dir} already holds a run ({', '.join(found)}); pass --resume to "
                          "continue it, --overwrite to start it over, or choose another --out")
    return run_dir


def clean_run_folder(run_dir: Path, *, overwrite: bool) -> None:
    """Remove dead runs' temporaries (restoring a moved-aside checkpoint); with ``overwrite`` also the
    previous run's files (RUN_FILES). Call on one process only."""
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        remove_stale_temporaries(folder)
    if not overwrite:
        return
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
