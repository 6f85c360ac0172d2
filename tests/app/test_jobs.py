"""The job queue alone (fake runners): FIFO order, a bounded queue, one-line errors that name the
user's files, a crashing job that does not stop the worker, folders deleted; the options adapter."""

from __future__ import annotations

import time

import pytest

from synergywarp.app.jobs import Job, JobQueue, QueueFull
from synergywarp.app.options import make_options, parse_number, parse_output_size
from synergywarp.errors import ConfigError, InputError
from synergywarp.inference import AnimateOptions


def new_job(queue: JobQueue) -> Job:
    job_id, folder = queue.new_folder()
    upload = folder / "upload-0" / "me.jpg"
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    return Job(id=job_id, folder=folder, source=upload, references=[], driving=upload, options=AnimateOptions(),
               total=3, driving_is_upload=False)


def wait_all(queue: JobQueue, jobs: list[Job], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(job.finished for job in jobs):
        assert time.monotonic() < deadline, "jobs did not finish"
        time.sleep(0.01)


def test_jobs_run_in_order_one_at_a_time_and_errors_are_one_line():
    ran, running = [], []

    def run(job: Job):
        running.append(job.id)
        assert len(running) == 1  # never two at once
        ran.append(job.id)
        try:
            if len(ran) == 2:
                raise InputError(f"no face found in {job.source}")
            if len(ran) == 3:
                raise RuntimeError(f"boom at {job.folder}/upload-0/me.jpg")
            job.progress("animating", 3)
        finally:
            running.pop()

    queue = JobQueue(run, autostart=False)
    jobs = [queue.submit(new_job(queue)) for _ in range(4)]
    assert [queue.position(job) for job in jobs] == [1, 2, 3, 4]
    queue.start()
    wait_all(queue, jobs)
    assert ran == [job.id for job in jobs]
    assert [job.state for job in jobs] == ["done", "error", "error", "done"]
    assert jobs[1].error == "no face found in me.jpg"
    assert jobs[2].error == "internal error (RuntimeError: boom at me.jpg)"  # logged, the worker went on
    assert jobs[0].stage == "animating" and jobs[0].done == 3
    assert not any((job.folder / "upload-0").exists() for job in jobs)  # uploads deleted after each run
    root = queue.root
    queue.close()
    assert not root.exists()


def test_the_queue_is_bounded_and_old_jobs_are_deleted():
    queue = JobQueue(lambda job: None, autostart=False, max_waiting=2, keep=1)
    jobs = [queue.submit(new_job(queue)) for _ in range(2)]
    with pytest.raises(QueueFull, match=r"the queue is full \(2 jobs waiting\); try again later"):
        queue.submit(new_job(queue))
    queue.start()
    wait_all(queue, jobs)
    assert list(queue.jobs) == [jobs[1].id] and not jobs[0].folder.exists()  # keep=1
    queue.close()
    with pytest.raises(QueueFull, match="shutting down"):
        queue.submit(jobs[1])


def test_form_values_become_validated_options():
    assert parse_number("smoothing", "", 0.5) == 0.5 and parse_number("smoothing", "1.5", 0.5) == 1.5
    with pytest.raises(ConfigError, match="smoothing must be a number, got 'abc'"):
        parse_number("smoothing", "abc", 0.5)
    assert parse_output_size("default") is None and parse_output_size("512") == 512
    with pytest.raises(ConfigError, match="output size must be a whole number of pixels, got 'big'"):
        parse_output_size("big")
    with pytest.raises(ConfigError, match=r"output size must be an integer in \[64, 2048\], got 30"):
        make_options(output_size=30)  # AnimateOptions' own validation and message
    with pytest.raises(ConfigError, match="smooth must be a finite number ≥ 0"):
        make_options(smooth=-1.0)
    assert make_options(output_size=256).output_size == 256
