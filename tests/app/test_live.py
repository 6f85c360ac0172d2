"""``synergywarp live``: the newest-frame mailbox, dropping frames instead of queueing them, pacing a
video file at its frame rate or as fast as possible, the headless CLI and the MJPEG view on the page."""

from __future__ import annotations

import re
import threading
import time
import urllib.request

import numpy as np
import pytest

from synergywarp.app.live import LatestFrame, LiveStream, VideoFileCamera, run_live
from synergywarp.app.options import make_options
from synergywarp.app.server import RunningServer, create_app

from .conftest import GRACE, SAMPLE_DRIVING

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_mailbox_holds_one_frame_and_hands_out_the_newest():
    box = LatestFrame()
    taken: list[int] = []

    def consume():
        while (item := box.take(timeout=1.0)) is not None:
            taken.append(item.number)
            time.sleep(0.003)  # slower than the producer

    consumer = threading.Thread(target=consume)
    consumer.start()
    for _ in range(300):
        box.put(np.zeros((2, 2, 3), np.uint8), time.perf_counter())
        assert box.pending <= 1
    box.close()
    consumer.join(10)
    assert box.max_pending == 1
    assert taken == sorted(set(taken)) and taken[-1] == 299  # in order, and the newest is never lost
    assert box.dropped > 0 and box.dropped + len(taken) == box.put_count == 300


def test_waiting_puts_drop_nothing():
    box = LatestFrame()
    def produce():
        for _ in range(50):
            box.put(np.zeros(1), 0.0, wait=True)
        box.close()

    producer = threading.Thread(target=produce)
    producer.start()
    numbers = []
    while (item := box.take(timeout=1.0)) is not None:
        numbers.append(item.number)
    producer.join(5)
    assert numbers == list(range(50)) and box.dropped == 0


class SlowAnimator:
    """An Animator whose per-frame step takes at least ``delay`` s (a camera outpaces it)."""

    def __init__(self, animator, delay: float):
        self.animator, self.delay = animator, delay

    def __getattr__(self, name):
        return getattr(self.animator, name)

    def render_frame(self, work):
        start = time.perf_counter()
        out = self.animator.render_frame(work)
        delay = self.delay(work.index) if callable(self.delay) else self.delay
        time.sleep(max(0.0, delay - (time.perf_counter() - start)))
        return out


@pytest.mark.slow
def test_a_slow_animator_drops_camera_frames_and_never_queues(tiny_animator, short_clip):
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    camera = VideoFileCamera(short_clip, loop=True)  # 25 fps, paced in real time
    stats = run_live(SlowAnimator(tiny_animator, 0.12), prepared, camera, max_frames=5)
    assert stats.frames == 5 and stats.max_queue == 1
    assert stats.dropped >= 5  # ~3 camera frames arrive per animated one: all but the newest are dropped
    assert stats.captured - stats.dropped - stats.frames in (0, 1)  # at most the one frame left in the slot
    assert min(stats.latencies_ms) >= 100  # each shown frame waited for the 120 ms step


@pytest.mark.slow
def test_fast_pace_animates_every_frame(tiny_animator, short_clip):
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    views = []
    stats = run_live(tiny_animator, prepared, VideoFileCamera(short_clip, pace="fast"),
                     on_frame=lambda s, view: views.append(view.shape))
    assert stats.frames == stats.captured == 12 and stats.dropped == 0 and stats.frames_with_face == 12
    assert stats.camera_fps == 25 and len(stats.latencies_ms) == 12 and stats.fps > 0
    height, width = prepared.source.image.shape[:2]
    assert views[0][0] == 384 and abs(views[0][1] - (384 + width * 384 / height)) <= 1  # driving | result


class RecordingSink:
    """Keeps every view shown."""

    closed = False

    def __init__(self) -> None:
        self.views: list[np.ndarray] = []

    def show(self, view: np.ndarray) -> None:
        self.views.append(view.copy())

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_two_workers_show_every_frame_in_capture_order_with_the_same_pixels(tiny_animator, short_clip):
    """Rendering two frames at once (tracking stays in order) changes nothing a viewer sees but the
    overlay: the same frames, in the same order, bit for bit, even when every other frame takes longer
    to render (so frames finish out of order)."""
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    shown = {}
    uneven = SlowAnimator(tiny_animator, lambda index: 0.25 if index % 2 == 0 else 0.0)
    for workers in (1, 2):
        sink = RecordingSink()
        stats = run_live(uneven, prepared, VideoFileCamera(short_clip, pace="fast"), sink,
                         workers=workers)
        assert stats.frames == stats.captured == 12 and stats.dropped == 0 and stats.workers == workers
        shown[workers] = [view[64:] for view in sink.views]  # below the fps / latency overlay
    assert len(shown[1]) == len(shown[2]) == 12
    assert len({view.tobytes() for view in shown[1]}) > 6  # the frames differ from each other ...
    for one, two in zip(shown[1], shown[2], strict=True):
        assert np.array_equal(one, two)  # ... and each one equals its single-worker twin


def test_worker_count_auto_uses_two_on_a_multi_threaded_cpu_and_rejects_nonsense(tiny_animator):
    import torch

    from synergywarp.app.live import live_workers
    from synergywarp.errors import ConfigError

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert live_workers(tiny_animator, "auto") == 2
        torch.set_num_threads(1)
        assert live_workers(tiny_animator, "auto") == 1
    finally:
        torch.set_num_threads(threads)
    assert live_workers(tiny_animator, 3) == 3
    for bad in (0, "-1", "many", "²"):
        with pytest.raises(ConfigError, match="--workers"):
            live_workers(tiny_animator, bad)


def test_more_workers_than_one_are_lowered_where_frames_cannot_render_on_threads(tiny_animator, monkeypatch):
    from synergywarp.app.live import live_workers

    monkeypatch.setattr(tiny_animator.runtime, "compile", True)
    with pytest.warns(UserWarning, match="--workers 3: frames render one at a time"):
        assert live_workers(tiny_animator, 3) == 1
    assert live_workers(tiny_animator, "auto") == 1


def test_a_poke_wakes_a_waiting_take_without_a_frame():
    box = LatestFrame()
    threading.Timer(0.05, box.poke).start()
    start = time.perf_counter()
    assert box.take(timeout=5.0) is None
    assert time.perf_counter() - start < 1.0  # woken by the poke, not the timeout
    box.put(np.zeros(1), 0.0)
    assert box.take(timeout=0.1) is not None  # frames still come through


@pytest.mark.slow
def test_with_two_workers_a_rendered_frame_is_shown_without_waiting_for_the_next_camera_frame(tiny_animator,
                                                                                              tmp_path):
    """A camera at 5 fps (a frame every 200 ms), rendering ≈ 60 ms: each frame is shown when its render
    is done, not when the camera delivers the next one (which would add up to 200 ms)."""
    from synergywarp.io import VideoWriter, read_video

    frames, _ = read_video(SAMPLE_DRIVING)
    slow = tmp_path / "slow camera.mp4"
    with VideoWriter(slow, 5.0) as writer:
        writer.write(frames[:6])
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    stats = run_live(SlowAnimator(tiny_animator, 0.06), prepared, VideoFileCamera(slow), workers=2)
    assert stats.frames == 6 and stats.workers == 2 and stats.unshown == 0
    assert float(np.median(stats.latencies_ms)) < 170, stats.latencies_ms


@pytest.mark.slow
def test_a_frame_still_rendering_when_the_run_stops_is_counted_as_unshown(tiny_animator, short_clip):
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    stats = run_live(SlowAnimator(tiny_animator, 0.2), prepared, VideoFileCamera(short_clip, pace="fast"),
                     max_frames=3, workers=2)
    assert stats.frames == 3 and stats.unshown == 1  # the next frame was rendering when the third was shown
    assert stats.as_dict()["unshown"] == 1
    assert stats.frames + stats.unshown + stats.dropped <= stats.captured


@pytest.mark.slow
def test_live_cli_headless_reports_frames_fps_latency_and_queue(run_cli, tmp_path, short_clip, tiny_checkpoint):
    status, printed = run_cli(tmp_path, "live", "--source", GRACE, "--camera", short_clip, "--show", "none",
                              "--max-frames", "5", "--checkpoint", tiny_checkpoint, "--device", "cpu", "--pace", "fast")
    assert status == 0, printed.err
    assert "live: " + str(short_clip) + " at 25 fps (fast)" in printed.err
    out = printed.out.strip().splitlines()[-1]
    found = re.fullmatch(r"live: (\d+) frames in [\d.]+ s \(([\d.]+) fps\); latency (\d+) ms median, (\d+) ms p95; "
                         r"camera (\d+) frames at 25 fps, (\d+) dropped; "
                         r"capture queue held at most (\d) frame\(s\); (\d) frame\(s\) rendering at once", out)
    assert found, out
    frames, fps, p50, p95, captured, dropped, held, workers = found.groups()
    assert int(frames) == 5 and float(fps) > 0 and 0 < int(p50) <= int(p95)
    assert int(held) == 1 and int(captured) >= 5 and int(dropped) == 0
    assert int(workers) == 1  # auto: the test runs torch on one thread, so one frame renders at a time


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "message"), [
    (["--camera", "missing.mp4"], "error: video not found: missing.mp4"),
    (["--camera", "clip.mp4", "--max-frames", "0"], "error: --max-frames and --max-seconds must be positive"),
    (["--camera", "clip.mp4", "--show", "window"], "error: --show window needs OpenCV with GUI support"),
    (["--camera", "clip.mp4", "--workers", "0"], "error: --workers: expected auto or a whole number ≥ 1, got '0'"),
    (["--camera", "clip.mp4", "--workers", "two"], "error: --workers: expected auto or a whole number ≥ 1"),
    (["--camera", "clip.mp4", "--workers", "²"], "error: --workers: expected auto or a whole number ≥ 1"),
])
def test_live_cli_errors_are_one_line(run_cli, tmp_path, short_clip, tiny_checkpoint, argv, message):
    (tmp_path / "clip.mp4").write_bytes(short_clip.read_bytes())
    status, printed = run_cli(tmp_path, "live", "--source", GRACE, "--checkpoint", tiny_checkpoint,
                              "--device", "cpu", *argv)
    last = printed.err.strip().splitlines()[-1]
    assert status == 1 and last.startswith(message) and "Traceback" not in printed.err


@pytest.mark.slow
def test_web_view_streams_mjpeg_to_the_page(browser, tiny_animator, short_clip):
    stream = LiveStream()
    server = RunningServer(create_app(tiny_animator, live=stream), "127.0.0.1", 0).start()
    prepared = tiny_animator.prepare(GRACE, options=make_options())
    done = threading.Event()
    runner = threading.Thread(target=lambda: (run_live(tiny_animator, prepared, VideoFileCamera(short_clip, loop=True),
                                                       stream, stop=done,
                                                       on_frame=lambda s, v: stream.info.update(s.as_dict()))))
    runner.start()
    try:
        with urllib.request.urlopen(server.url + "api/live.mjpg", timeout=20) as response:
            assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            head = response.read(200)
        assert head.startswith(b"--frame\r\nContent-Type: image/jpeg\r\n") and b"\r\n\r\n\xff\xd8" in head
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(server.url)
        page.wait_for_function("() => document.getElementById('live-view').naturalWidth > 0")
        page.wait_for_function("() => document.getElementById('live-stats').textContent.includes('fps')")
        assert not page.is_visible("#job-panel")  # live-only page: no uploads
        assert page.eval_on_selector("#live-view", "img => img.naturalHeight") == 384
        page.close()
    finally:
        done.set()
        runner.join(20)
        stream.close()
        server.close()
