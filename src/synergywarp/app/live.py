"""``synergywarp live``: a camera (or a video file standing in for one) drives the portrait.

A capture thread reads the camera into a one-slot :class:`LatestFrame`: a frame the animator has
not taken yet is replaced by the newer one (counted as dropped), so the loop always animates the
newest frame and keeps up by dropping frames, never by growing a queue. The loop runs
:meth:`Animator.animate_frame` (One-Euro smoothing of the motion, paste-back), draws fps and latency
(capture → displayed) on a driving | result view and hands it to a sink: a window, the web page's
MJPEG stream (:class:`LiveStream`) or nothing (headless runs and tests).

A video file is paced at its own frame rate (``pace="realtime"``, like a camera); ``pace="fast"``
hands over every frame as soon as the previous one is taken (no drops: throughput benchmarks).
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch

from synergywarp.errors import ConfigError, InputError
from synergywarp.inference import AnimatedFrame, Animator, PreparedSource
from synergywarp.inference.compare import side_by_side

Pace = Literal["realtime", "fast"]
SHOW_CHOICES = ("window", "web", "none")


@dataclass
class CapturedFrame:
    """A camera frame H×W×3 uint8 RGB, its capture time (``time.perf_counter``) and number."""

    image: np.ndarray
    captured_at: float
    number: int


class LatestFrame:
    """One-slot mailbox between the capture thread and the animation loop.

    :meth:`put` replaces a frame that was not taken yet (``dropped`` += 1); with ``wait=True`` it
    instead waits until the slot is free (no drops); after :meth:`close` it ignores frames.
    :meth:`take` returns the newest frame.
    ``max_pending`` is the most frames ever held at once (1 by construction: the queue never grows).
    """

    def __init__(self) -> None:
        self._slot: CapturedFrame | None = None
        self._cond = threading.Condition()
        self._poked = False
        self.closed = False
        self.put_count = self.taken = self.dropped = self.max_pending = 0

    def put(self, image: np.ndarray, captured_at: float, *, wait: bool = False) -> None:
        with self._cond:
            while wait and self._slot is not None and not self.closed:
                self._cond.wait(0.1)
            if self.closed:
                return  # the loop has stopped: the frame is not captured
            if self._slot is not None:
                self.dropped += 1
            self._slot = CapturedFrame(image, captured_at, self.put_count)
            self.put_count += 1
            self.max_pending = max(self.max_pending, self.pending)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Frames held now (0 or 1)."""
        return int(self._slot is not None)

    def take(self, timeout: float) -> CapturedFrame | None:
        """The newest frame, waiting up to ``timeout`` s; None on timeout, after :meth:`poke` or once
        closed and empty."""
        with self._cond:
            deadline = time.monotonic() + timeout
            while self._slot is None and not self.closed:
                if self._poked:
                    self._poked = False
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            item, self._slot = self._slot, None
            self.taken += item is not None
            self._cond.notify_all()
            return item

    def poke(self) -> None:
        """Wake a waiting :meth:`take` without a frame (a rendered frame is ready to be shown)."""
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def close(self) -> None:
        """No more frames will come (the camera ended or the loop stops)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class Camera(Protocol):
    fps: float
    name: str

    def frames(self) -> Iterator[np.ndarray]: ...


class VideoFileCamera:
    """A video file as a camera: frames at the file's rate (``realtime``) or as fast as taken."""

    def __init__(self, path: str | Path, *, pace: Pace = "realtime", loop: bool = False):
        from synergywarp.io import probe_video

        self.path, self.pace, self.loop = Path(path), pace, loop
        info = probe_video(self.path)  # InputError: missing, empty, not a video
        self.fps, self.name, self.num_frames = info.fps, str(self.path), info.num_frames

    def frames(self) -> Iterator[np.ndarray]:
        from synergywarp.io import iter_video_frames

        start, shown = time.perf_counter(), 0
        while True:
            for image in iter_video_frames(self.path):
                if self.pace == "realtime":
                    delay = start + shown / self.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                shown += 1
                yield image
            if not self.loop:
                return


class WebcamCamera:
    """A webcam through OpenCV (``index`` as in ``cv2.VideoCapture``), frames converted to RGB."""

    def __init__(self, index: int):
        import cv2

        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise InputError(f"cannot open camera {index} (no such device, or it is busy); "
                             "pass --camera N for another camera or --camera VIDEO for a file")
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0) or 30.0
        self.name = f"camera {index}"
        self.pace: Pace = "realtime"

    def frames(self) -> Iterator[np.ndarray]:
        import cv2

        try:
            while True:
                ok, bgr = self.capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self.capture.release()


def open_camera(spec: str | int, *, pace: Pace = "realtime", loop: bool = False) -> Camera:
    """``--camera`` value: a number → that webcam; anything else → a video file (InputError if bad)."""
    text = str(spec).strip()
    if text.isdigit():
        return WebcamCamera(int(text))
    return VideoFileCamera(text, pace=pace, loop=loop)


class CaptureThread(threading.Thread):
    """Reads ``camera`` into ``mailbox`` until the camera ends or :meth:`stop`; keeps a read error
    in ``error`` (re-raised by the loop)."""

    def __init__(self, camera: Camera, mailbox: LatestFrame):
        super().__init__(name="synergywarp-capture", daemon=True)
        self.camera, self.mailbox = camera, mailbox
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        wait = getattr(self.camera, "pace", "realtime") == "fast"
        try:
            for image in self.camera.frames():
                if self.stopping.is_set():
                    break
                self.mailbox.put(image, time.perf_counter(), wait=wait)
        except BaseException as err:  # noqa: BLE001 - handed to the loop's thread
            self.error = err
        finally:
            self.mailbox.close()

    def stop(self) -> None:
        self.stopping.set()
        self.mailbox.close()


@dataclass
class LiveStats:
    """What a live run did: frames animated, wall time, latency (capture → view ready) per frame,
    camera frames captured and dropped, the most frames the capture queue ever held, and the frames taken
    but not shown because the run stopped while they rendered."""

    frames: int = 0
    frames_with_face: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    captured: int = 0
    dropped: int = 0
    max_queue: int = 0
    camera_fps: float = 0.0
    workers: int = 1  # frames rendering at once
    unshown: int = 0  # frames taken from the camera but not shown: still rendering when the run stopped

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def as_dict(self) -> dict:
        return {"frames": self.frames, "frames_with_face": self.frames_with_face, "seconds": self.seconds,
                "fps": self.fps, "latency_ms_mean": float(np.mean(self.latencies_ms)) if self.latencies_ms else None,
                "latency_ms_p50": self.latency_ms(50), "latency_ms_p95": self.latency_ms(95),
                "captured": self.captured, "dropped": self.dropped, "max_queue": self.max_queue,
                "camera_fps": self.camera_fps, "workers": self.workers, "unshown": self.unshown}

    def summary(self) -> str:
        return (f"live: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps); latency "
                f"{self.latency_ms(50):.0f} ms median, {self.latency_ms(95):.0f} ms p95; camera "
                f"{self.captured} frames at {self.camera_fps:g} fps, {self.dropped} dropped; "
                f"capture queue held at most {self.max_queue} frame(s); {self.workers} frame(s) rendering at once")


class RateMeter:
    """Frames per second over the last ``window`` seconds (for the overlay)."""

    def __init__(self, window: float = 1.0):
        self.window = window
        self.times: deque[float] = deque()

    def tick(self, now: float) -> float:
        self.times.append(now)
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


def draw_overlay(view: np.ndarray, lines: list[str]) -> np.ndarray:
    """``view`` H×W×3 with ``lines`` of text in its top-left corner (white on a dark band)."""
    import cv2

    scale = max(0.4, view.shape[0] / 480)
    height = int(22 * scale)
    band = view[: height * len(lines) + 6]
    band[...] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(view, text, (6, height * (row + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.55 * scale,
                    (255, 255, 255), max(1, round(scale)), cv2.LINE_AA)
    return view


def live_view(driving: np.ndarray, result: np.ndarray, lines: list[str], height: int = 384) -> np.ndarray:
    """The displayed frame: driving | result at ``height`` rows, with the overlay ``lines``."""
    return draw_overlay(side_by_side([driving, result], height=height), lines)


class LiveStream:
    """The newest live view as JPEG, for the web page's MJPEG stream, and the run's status."""

    def __init__(self, quality: int = 85):
        self.quality = quality
        self._lock = threading.Lock()
        self._jpeg: bytes | None = None
        self.version = 0
        self.closed = False
        self.info: dict = {}

    def show(self, view: np.ndarray) -> None:
        import cv2

        ok, data = cv2.imencode(".jpg", view[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            with self._lock:
                self._jpeg, self.version = data.tobytes(), self.version + 1

    def latest(self) -> tuple[bytes | None, int]:
        with self._lock:
            return self._jpeg, self.version

    def status(self) -> dict:
        return {"running": not self.closed, "frames_shown": self.version, **self.info}

    def close(self) -> None:
        self.closed = True


class WindowSink:
    """An OpenCV window (needs OpenCV built with a GUI and a display); ``q`` or Esc stops."""

    title = "SynergyWarp live (q to quit)"

    def __init__(self) -> None:
        import cv2

        try:
            cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)
        except cv2.error:
            raise ConfigError("--show window needs OpenCV with GUI support and a display (opencv-python, "
                              "not opencv-python-headless); use --show web to watch in the browser") from None
        self.closed = False

    def show(self, view: np.ndarray) -> None:
        import cv2

        cv2.imshow(self.title, view[..., ::-1])
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.closed = True

    def close(self) -> None:
        import cv2

        cv2.destroyWindow(self.title)


class NoSink:
    """Headless: views are made (so timings include them) and dropped."""

    closed = False

    def show(self, view: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


def _count(stats: LiveStats, mailbox: LatestFrame, start: float) -> None:
    """Bring the run's wall time and camera counters up to date."""
    stats.seconds = time.perf_counter() - start
    stats.captured, stats.dropped, stats.max_queue = mailbox.put_count, mailbox.dropped, mailbox.max_pending


def parse_workers(requested: int | str) -> int | None:
    """``--workers``: ``auto`` → None, else a whole number ≥ 1 (ConfigError, one line, otherwise)."""
    text = str(requested).strip().lower()
    if text == "auto":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"--workers: expected auto or a whole number ≥ 1, got {requested!r}")
    return int(text)


def live_workers(animator: Animator, requested: int | str = "auto") -> int:
    """How many frames render at once: ``auto`` is 2 on a CPU with at least two torch threads (each
    frame's network then runs single-threaded next to the other frame's and to the tracking of the
    next, which keeps both cores busy: more frames per second for some latency), 1 on a GPU, with ONNX
    Runtime (its own thread pool) or compiled; a number is taken as given on the CPU with ``torch`` or
    ``jit`` and lowered to 1 elsewhere, with a warning (those paths are not made for several threads)."""
    workers = parse_workers(requested)
    runtime = animator.runtime
    threaded = runtime.device.type == "cpu" and runtime.backend in ("torch", "jit") and not runtime.compile
    if workers is None:
        return 2 if threaded and torch.get_num_threads() >= 2 else 1
    if workers > 1 and not threaded:
        warnings.warn(f"--workers {workers}: frames render one at a time on {runtime.describe()} "
                      "(several at once only on the CPU with --backend torch or jit)", stacklevel=2)
        return 1
    return workers


@contextlib.contextmanager
def _threads_per_worker(workers: int) -> Iterator[None]:
    """Split torch's intra-op threads between ``workers`` frames rendering at once (restored after)."""
    total = torch.get_num_threads()
    torch.set_num_threads(max(1, total // workers))
    try:
        yield
    finally:
        torch.set_num_threads(total)


def run_live(animator: Animator, prepared: PreparedSource, camera: Camera, sink=None, *,
             max_frames: int | None = None, max_seconds: float | None = None,
             stop: threading.Event | None = None, on_frame=None, warm_up: bool = True,
             workers: int | str = 1) -> LiveStats:
    """Animate ``camera`` with ``prepared`` until it ends, ``max_frames``/``max_seconds``, ``stop`` is
    set or the sink closes; returns the run's :class:`LiveStats`. ``on_frame(stats, view)`` is called
    after each shown frame; ``warm_up`` first animates the source once (off the camera's clock).

    With ``workers`` > 1 (or ``auto``, :func:`live_workers`) the loop tracks each frame in order and
    hands its network and paste-back to a pool of that many threads, torch's threads split between
    them; frames are shown in capture order."""
    workers = live_workers(animator, workers)
    sink = sink or NoSink()
    mailbox = LatestFrame()
    capture = CaptureThread(camera, mailbox)
    stats, meter = LiveStats(camera_fps=camera.fps, workers=workers), RateMeter()
    waiting = prepared.source.image if prepared.options.crop and prepared.options.paste_back \
        else prepared.source.crop_image
    pending: deque[tuple[CapturedFrame, Future[AnimatedFrame] | None]] = deque()

    def show(item: CapturedFrame, animated: AnimatedFrame | None) -> bool:
        """Show one finished frame; True when the run should stop."""
        now = time.perf_counter()
        latency = 1000.0 * (now - item.captured_at)
        rate = meter.tick(now)
        face = animated is not None and animated.face_found
        lines = [f"{rate:4.1f} fps  {latency:4.0f} ms"]
        if not face:
            lines.append("no face: holding" if animated is not None else "waiting for a face")
        view = live_view(item.image, animated.image if animated is not None else waiting, lines)
        sink.show(view)
        stats.frames += 1
        stats.frames_with_face += face
        stats.latencies_ms.append(1000.0 * (time.perf_counter() - item.captured_at))
        _count(stats, mailbox, start)
        if on_frame is not None:
            on_frame(stats, view)
        return max_frames is not None and stats.frames >= max_frames

    def finish_oldest() -> bool:
        item, future = pending.popleft()
        return show(item, future.result() if future is not None else None)

    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1:
            stack.enter_context(_threads_per_worker(workers))
            pool = stack.enter_context(ThreadPoolExecutor(workers, thread_name_prefix="synergywarp-render"))
        if warm_up:  # first calls (FaceMesh graph, model kernels) are slow: not on the camera's clock
            with animator.start_live(prepared, camera.fps) as scratch:
                animator.animate_frame(scratch, prepared.source.image)
        start = time.perf_counter()
        try:
            with animator.start_live(prepared, camera.fps) as session:
                capture.start()
                done = False
                while not (done or sink.closed or (stop is not None and stop.is_set())):
                    if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                        break
                    if pending and (len(pending) >= workers or pending[0][1] is None or pending[0][1].done()):
                        done = finish_oldest()
                        continue
                    item = mailbox.take(timeout=0.2)
                    if item is None:
                        if mailbox.closed and not pending:
                            break
                        if pending and mailbox.closed:
                            done = finish_oldest()
                        continue
                    work = animator.track_frame(session, item.image)
                    if pool is None:
                        done = show(item, animator.render_frame(work) if work is not None else None)
                    else:
                        future = pool.submit(animator.render_frame, work) if work is not None else None
                        if future is not None:  # show it as soon as it is ready, not at the next camera frame
                            future.add_done_callback(lambda _: mailbox.poke())
                        pending.append((item, future))
                while pending and not done and not sink.closed:
                    done = finish_oldest()
        finally:
            stats.unshown = len(pending)
            for _, future in pending:
                if future is not None:
                    future.cancel()
            capture.stop()
            if capture.is_alive():
                capture.join(5)
            sink.close()
            _count(stats, mailbox, start)
    if capture.error is not None:
        raise capture.error
    return stats
