"""Animation jobs of the web page: a FIFO queue and one background worker (one job at a time).

Every job owns a folder under the queue's temp root: its uploads and its result. Uploads other than
the driving video are deleted when the job ends; whole job folders are deleted when more than
``keep`` jobs have ended (oldest first) and the root when the queue closes. Errors of the
:mod:`synergywarp.errors` family end a job with their one-line message (upload folders stripped,
so messages name the user's own file names); any other exception is logged with its traceback and
reported as an internal error, and the worker goes on with the next job.
"""

from __future__ import annotations

import itertools
import logging
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from synergywarp.errors import SynergyWarpError
from synergywarp.inference import AnimateOptions

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "error"]


@dataclass
class Job:
    """One animation request and what became of it. ``total``: driving frames (None when unknown);
    ``stage``/``done``: the pipeline's current stage (tracking, animating) and frames done in it."""

    id: str
    folder: Path
    source: Path
    references: list[Path]
    driving: Path
    options: AnimateOptions
    total: int | None
    driving_is_upload: bool = True
    state: JobState = "queued"
    stage: str = ""
    done: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    result: Path | None = None
    num_frames: int = 0
    seconds: float = 0.0
    order: int = 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "error")

    def progress(self, stage: str, count: int) -> None:
        """The pipeline's ProgressCallback: frames finished in ``stage``."""
        if stage != self.stage:
            self.stage, self.done = stage, 0
        self.done += count

    def user_message(self, text: str) -> str:
        return user_message(self.folder, text)


def user_message(folder: Path, text: str) -> str:
    """``text`` with a job's upload folders removed (``…/job/upload-3/me.jpg`` → ``me.jpg``), so
    messages name the user's own file names."""
    return re.sub(re.escape(str(folder)) + r"[/\\](upload-\d+[/\\])?", "", text)


class QueueFull(SynergyWarpError):
    """The queue holds ``max_waiting`` jobs already, or is closing."""


Runner = Callable[[Job], object]  # runs one job: writes job.result; returns the AnimationResult


class JobQueue:
    """FIFO of :class:`Job` s run by one worker thread with ``run_job``; ``max_waiting`` bounds the queue."""

    def __init__(self, run_job: Runner, *, keep: int = 16, max_waiting: int = 32, autostart: bool = True):
        self.run_job = run_job
        self.keep = keep
        self.max_waiting = max_waiting
        self.root = Path(tempfile.mkdtemp(prefix="synergywarp-app-"))
        self.jobs: dict[str, Job] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._worker: threading.Thread | None = None
        self._closed = False
        if autostart:
            self.start()

    # ------------------------------------------------------------------ submitting and reading
    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (created) folder, for the uploads of a job about to be submitted."""
        job_id = secrets.token_hex(6)
        folder = self.root / job_id
        folder.mkdir()
        return job_id, folder

    def discard(self, folder: Path) -> None:
        """Delete the folder of a job that was never submitted (its uploads were rejected)."""
        shutil.rmtree(folder, ignore_errors=True)

    def waiting(self) -> int:
        with self._lock:
            return sum(job.state == "queued" for job in self.jobs.values())

    def submit(self, job: Job) -> Job:
        """Queue ``job`` (QueueFull when the queue is full or closed)."""
        with self._lock:
            if self._closed:
                raise QueueFull("the app is shutting down; try again later")
            if sum(j.state == "queued" for j in self.jobs.values()) >= self.max_waiting:
                raise QueueFull(f"the queue is full ({self.max_waiting} jobs waiting); try again later")
            job.order = next(self._order)
            self.jobs[job.id] = job
        self._pending.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def position(self, job: Job) -> int:
        """0 when running or ended, else 1 + the number of queued jobs ahead of it."""
        with self._lock:
            if job.state != "queued":
                return 0
            return 1 + sum(j.state == "queued" and j.order < job.order for j in self.jobs.values())

    def running(self) -> bool:
        with self._lock:
            return any(j.state == "running" for j in self.jobs.values())

    # ------------------------------------------------------------------ the worker
    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._worker is None and not self._closed:
            self._worker = threading.Thread(target=self._work, name="synergywarp-jobs", daemon=True)
            self._worker.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker after the running job and delete every job folder."""
        self._closed = True
        self._pending.put(None)
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        shutil.rmtree(self.root, ignore_errors=True)

    def _work(self) -> None:
        while True:
            job = self._pending.get()
            if job is None or self._closed:
                return
            self._run(job)
            self._evict()

    def _run(self, job: Job) -> None:
        start = time.perf_counter()
        with self._lock:
            job.state = "running"
        try:  # (catch_warnings is process-wide: warnings of other threads meanwhile land here too)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = self.run_job(job)
            job.warnings = list(dict.fromkeys(job.user_message(str(w.message)) for w in caught))
            job.num_frames = int(getattr(result, "num_frames", 0))
            state: JobState = "done"
        except SynergyWarpError as err:
            job.error, state = job.user_message(str(err)), "error"
        except Exception as err:  # a bug: keep serving, tell the user in one line, log the traceback
            log.exception("job %s failed", job.id)
            job.error, state = f"internal error ({type(err).__name__}: {job.user_message(str(err))})", "error"
        job.seconds = time.perf_counter() - start
        for upload in job.folder.glob("upload-*"):
            if not (job.driving_is_upload and job.driving.parent == upload):
                shutil.rmtree(upload, ignore_errors=True)
        with self._lock:
            job.state = state

    def _evict(self) -> None:
        with self._lock:
            ended = sorted((j for j in self.jobs.values() if j.finished), key=lambda j: j.order)
            old = ended[:max(0, len(ended) - self.keep)]
            for job in old:
                del self.jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
