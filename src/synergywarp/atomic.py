"""Safe output files (standard library only, usable from every layer): output-path checks made before
any work, atomic publishing with ordinary permissions, one-line write errors, and the removal of
temporaries that a killed run left behind.

Every file is written to a hidden temporary sibling ``.NAME.PID.HEX.part`` and renamed onto ``NAME``
when complete (:func:`publish`), so a failure, a signal or a full disk never leaves half a file and
never destroys the previous one. The temporary's name records the writing process, so a later run
can tell a dead run's leftovers from a live writer's file (:func:`remove_stale_temporaries`); only
names of these exact shapes are ever removed, never a user's file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from synergywarp.errors import OutputError

_PART = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.part$")  # temporary_sibling()
_PID_TMP = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp$")  # safetensors temporaries of earlier versions
_LEGACY_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")  # .part names of earlier versions (no pid)
_CHECKPOINT = re.compile(r"^\.(?P<kind>tmp|old)-(?P<name>step_\d{8})-(?P<pid>\d+)$")  # train/state.py
LEGACY_STALE_SECONDS = 3600.0  # a pid-less temporary untouched this long has no live writer


def temporary_sibling(path: str | Path) -> Path:
    """A hidden, unique temporary name beside ``path`` (same filesystem, so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")


def file_mode() -> int:
    """The mode a newly created file gets under the current umask (0o644 under the usual 022)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def publish(temporary: Path, path: Path) -> Path:
    """Give ``temporary`` the umask's permissions (some writers create 0600 files) and rename it onto
    ``path`` atomically."""
    os.chmod(temporary, file_mode())
    os.replace(temporary, path)
    return path


def write_failure(path: str | Path, error: BaseException, advice: str = "") -> OutputError:
    """The one-line error for a failed write of ``path`` (disk full, permission denied ...); ``error`` may
    be an OSError, a library's wrapper of one, or an earlier write_failure (its reason is reused)."""
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error) or type(error).__name__
    found = re.search(r"I/O error: (.+?) \(os error \d+\)", reason)  # safetensors' Rust wording
    reason = found.group(1) if found else reason.splitlines()[0]
    failure = OutputError(f"cannot write {path}: {reason}" + (f"; {advice}" if advice else ""))
    failure.reason = reason
    return failure


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary sibling; OutputError when it cannot be written."""
    path = Path(path)
    temporary = temporary_sibling(path)
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        return publish(temporary, path)
    except OSError as error:
        raise write_failure(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- checks made before any work
def nearest_existing(path: str | Path) -> Path:
    """``path`` or its closest ancestor that exists (absolute)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def same_file(first: str | Path, second: str | Path) -> bool:
    """True when both names lead to the same file (symlinks and hard links followed; loops tolerated)."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def check_writable_folder(folder: str | Path, what: str = "output") -> Path:
    """OutputError unless ``folder`` exists as a writable folder or can be created (its nearest existing
    ancestor is a folder in which a file can really be created: permissions, read-only filesystems and
    special filesystems are all caught, also for root)."""
    folder = Path(folder)
    ancestor = nearest_existing(folder)
    if not ancestor.is_dir():
        raise OutputError(f"cannot create {what} folder {folder}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{what} folder is not writable: {ancestor}")
    probe = temporary_sibling(ancestor / "write-check")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise OutputError(f"{what} folder is not writable: {ancestor} ({error.strerror or error})") from None
    probe.unlink(missing_ok=True)
    return folder


def check_output_file(path: str | Path, overwrite: bool, inputs: Iterable[str | Path] = (),
                      what: str = "output") -> Path:
    """OutputError when ``path`` is a folder, is one of ``inputs``, exists without ``overwrite``, or its
    folder cannot be created or written."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} path is a folder, expected a file name: {path}")
    if any(same_file(path, given) for given in inputs):
        raise OutputError(f"{what} {path} is also an input; choose another {what} name")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputError(f"{what} {path} exists; pass --overwrite to replace it")
    check_writable_folder(path.parent, what)
    return path


# ---------------------------------------------------------------- leftovers of killed runs
def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a permission error means it does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def _stale_file(entry: Path) -> bool:
    match = _PART.match(entry.name) or _PID_TMP.match(entry.name)
    if match:
        return not _alive(int(match["pid"]))
    if _LEGACY_PART.match(entry.name):
        return time.time() - entry.stat().st_mtime > LEGACY_STALE_SECONDS
    return False


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries that dead runs left directly in ``folder``: ``.NAME.PID.HEX.part`` and
    ``.NAME.PID.tmp`` files and ``.tmp-step_*-PID`` folders whose process is gone, and pid-less
    ``.NAME.HEX.part`` files untouched for an hour. A ``.old-step_N-PID`` folder (a checkpoint moved
    aside by a re-save that was killed) is put back when ``step_N`` is missing. Returns what was
    removed; anything else, and anything that cannot be removed, is left alone."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or entry.is_symlink():
            continue
        try:
            checkpoint = _CHECKPOINT.match(entry.name)
            if checkpoint and entry.is_dir():
                if _alive(int(checkpoint["pid"])):
                    continue
                final = folder / checkpoint["name"]
                if checkpoint["kind"] == "old" and not final.exists():
                    os.replace(entry, final)
                else:
                    shutil.rmtree(entry)
                    removed.append(entry)
            elif entry.is_file() and _stale_file(entry):
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    return removed
