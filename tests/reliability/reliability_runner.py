"""Run ``synergywarp`` command lines in child processes, fast.

Each command runs in its own process forked from a server that has already imported the package and
its heavy dependencies (torch, OpenCV, PyAV, mediapipe), so a case costs its own work rather than
three seconds of imports. The child behaves like ``python -m synergywarp``: its file descriptors 1 and
2 go to files (so native libraries' output is captured too), an uncaught exception prints a traceback
and exits 1. Optional faults: ``file_size_limit`` (RLIMIT_FSIZE: every write past it fails with
EFBIG, a disk-full stand-in that reaches C, Rust and Python writers alike).

A module rather than conftest.py, so that the server can import :func:`_child_main` by name.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PRELOAD = ["torch", "cv2", "av", "PIL.Image", "mediapipe", "safetensors.torch", "synergywarp.cli",
           "synergywarp.inference.pipeline", "synergywarp.train.trainer", "synergywarp.data.prepare",
           "synergywarp.metrics.eval.run", "tqdm"]


@dataclass
class Completed:
    """The outcome of one command line: exit status and everything written to fd 1 and fd 2."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def _child_main(argv: list[str], cwd: str, out_path: str, err_path: str, env: dict[str, str],
                file_size_limit: int | None) -> None:
    """In the child: redirect fds, apply faults, run the CLI like ``python -m synergywarp``."""
    import resource
    import signal
    import traceback

    os.chdir(cwd)
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # forkserver children start with it ignored
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)
    if file_size_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.RLIM_INFINITY))
    import torch

    torch.set_num_threads(1)  # tiny models; two threads contend on a shared 2-core machine
    code = 1
    try:
        from synergywarp.cli import main

        code = int(main(argv) or 0)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 - what the interpreter would print
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


class CliRunner:
    """``runner(*argv, cwd=..., file_size_limit=...) -> Completed``; each call is a fresh process."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.count = 0
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)

    def start(self, *argv: object, cwd: Path | None = None, file_size_limit: int | None = None,
              env: dict[str, str] | None = None) -> Started:
        """Start a command line and return at once (``.pid`` to signal it, ``.wait()`` for the outcome)."""
        self.count += 1
        out = self.workdir / f"case{self.count}.out"
        err = self.workdir / f"case{self.count}.err"
        process = self.context.Process(target=_child_main, args=(
            [str(a) for a in argv], str(cwd or self.workdir), str(out), str(err),
            {"PYTHONWARNINGS": "default", **(env or {})}, file_size_limit))
        process.start()
        return Started(process, out, err, " ".join(map(str, argv)))

    def __call__(self, *argv: object, timeout: float = 120, **kwargs) -> Completed:
        return self.start(*argv, **kwargs).wait(timeout)


@dataclass
class Started:
    """A running command line."""

    process: multiprocessing.process.BaseProcess
    out: Path
    err: Path
    command: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_so_far(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def wait(self, timeout: float = 120) -> Completed:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise TimeoutError(f"synergywarp {self.command} ran past {timeout} s")
        code = self.process.exitcode
        if code < 0:  # killed by a signal: report it as a shell would
            code = 128 - code
        return Completed(code, self.out.read_text(errors="replace"), self.err.read_text(errors="replace"))
