"""``synergywarp app`` end to end in a real headless browser (Debian's Chromium under Playwright):
upload → queue → progress → result beside the driving → download; the CLI's one-line errors on the
page; two users queued at once; upload limits. A tiny random-weights model keeps jobs ~1 s."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from synergywarp.app.server import AppLimits
from synergywarp.io import iter_video_frames, probe_video, write_image

from .conftest import GRACE, SAMPLE_DRIVING, ServedApp

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]  # a browser and real jobs
SAMPLE_FRAMES = probe_video(SAMPLE_DRIVING).num_frames


def run_job(page, source=None, *, sample_source: bool = False, driving=None) -> None:
    if sample_source:
        page.check("#source-sample")
    if source is not None:
        page.set_input_files("#source", str(source))
    if driving is not None:
        page.set_input_files("#driving", str(driving))  # also picks "a video of mine"
    page.click("#run")


def model_line(page) -> str:
    """The page's model line once the page has fetched it (it reads "loading…" until then)."""
    page.wait_for_function("() => !document.getElementById('model').innerText.includes('loading')")
    return page.inner_text("#model")


def wait_until_ended(page) -> str:
    page.wait_for_selector("#status[data-state=done], #status[data-state=error], #status[data-state=rejected]")
    return page.get_attribute("#status", "data-state")


def test_upload_the_source_animate_the_sample_and_download_the_result(page, served, tmp_path):
    assert model_line(page).startswith("Model: model tiny_tracked")
    assert page.inner_text("#output-size option[value=default]") == "default (64 px)"  # the model's own
    page.select_option("#output-size", "256")
    run_job(page, GRACE)
    assert wait_until_ended(page) == "done", page.inner_text("#error")
    assert page.inner_text("#status").startswith(f"Done: {SAMPLE_FRAMES} frames")
    assert page.is_visible("#result")
    assert page.get_attribute("#driving-video", "src") == "/api/sample/driving.mp4"
    (job,) = served.jobs.jobs.values()
    assert job.options.output_size == 256  # the page's size control reaches the pipeline
    # the browser decodes the result (H.264 in Debian's Chromium) at the model's size
    page.wait_for_function("() => document.getElementById('result-video').readyState >= 1")
    assert page.eval_on_selector("#result-video", "v => [v.videoWidth, v.videoHeight]")[0] > 0
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".mp4"
    frames = list(iter_video_frames(saved))
    assert len(frames) == SAMPLE_FRAMES
    assert frames[0].std() > 1.0  # a picture, not a blank frame


def test_bundled_portrait_and_references_need_no_upload_and_warnings_reach_the_page(browser, tiny_checkpoint):
    from synergywarp.inference import Animator
    from synergywarp.inference.demo import demo_inputs

    served = ServedApp(Animator.from_pretrained(tiny_checkpoint, device="cpu"))  # RAC never trained
    try:
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(served.url)
        line = model_line(page)
        assert "from tiny_tracked.safetensors on cpu" in line  # the file's name, not where it lives
        assert str(tiny_checkpoint.parent) not in line
        run_job(page, sample_source=True)
        assert wait_until_ended(page) == "done", page.inner_text("#error")
        assert page.inner_text("#warnings") == ("warning: 3 reference image(s) unused: the checkpoint's RAC stage "
                                                "was never trained (trained_stages: explicit); using the explicit path")
        source, references, _ = demo_inputs()
        (job,) = served.jobs.jobs.values()
        assert job.source == source and job.references == references
        page.close()
    finally:
        served.close()


def test_a_text_file_as_source_shows_the_clis_one_line_error(page, tmp_path, run_cli):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    run_job(page, notes)
    assert wait_until_ended(page) == "rejected"
    shown = page.inner_text("#error")
    assert shown == "error: not an image (unrecognised format): notes.txt"
    assert not page.is_visible("#result")
    status, printed = run_cli(tmp_path, "animate", "--source", "notes.txt", "--driving", SAMPLE_DRIVING,
                              "--out", "out.mp4")
    assert status == 1 and printed.err.strip().splitlines()[-1] == shown


def test_a_photo_without_a_face_fails_its_job_with_one_line(page, tmp_path, short_clip):
    wall = tmp_path / "wall.png"
    write_image(wall, np.full((96, 96, 3), 180, np.uint8))
    run_job(page, wall)
    assert wait_until_ended(page) == "error"
    assert page.inner_text("#error") == "error: no face found in wall.png"
    # the page stays usable: the next job runs
    run_job(page, GRACE, driving=short_clip)
    page.wait_for_selector("#status[data-state=done]")
    assert page.inner_text("#status").startswith("Done: 12 frames")
    assert page.get_attribute("#driving-video", "src").endswith("/driving")  # the uploaded clip


def test_two_users_at_once_are_queued_in_order_and_both_finish(browser, tiny_animator, short_clip):
    served = ServedApp(tiny_animator, autostart=False)  # the worker waits, so both jobs are queued
    try:
        pages = [browser.new_context().new_page() for _ in range(2)]
        for page in pages:
            page.set_default_timeout(60_000)
            page.goto(served.url)
            run_job(page, GRACE, driving=short_clip)
            page.wait_for_selector("#status[data-state=queued]")
        assert pages[0].inner_text("#status") == "Queued: position 1 (next)"
        assert pages[1].inner_text("#status") == "Queued: position 2 (1 job ahead of yours)"
        served.jobs.start()
        for page in pages:
            assert wait_until_ended(page) == "done", page.inner_text("#error")
        jobs = sorted(served.jobs.jobs.values(), key=lambda job: job.order)
        assert [job.num_frames for job in jobs] == [12, 12]
        for job in jobs:  # after the run only the driving clip (shown on the page) and the result are kept
            kept = sorted(p.relative_to(job.folder).as_posix() for p in job.folder.rglob("*") if p.is_file())
            assert kept == sorted([job.driving.relative_to(job.folder).as_posix(), "result.mp4"])
            assert job.driving.name == "short clip.mp4"
        for page in pages:
            page.context.close()
    finally:
        served.close()
    assert not served.jobs.root.exists()  # every job folder is deleted with the queue


def test_uploads_over_the_limit_are_refused_on_the_page_and_by_the_server(browser, tiny_animator):
    served = ServedApp(tiny_animator, limits=AppLimits(max_upload_mb=0.005))
    try:
        page = browser.new_page()
        page.goto(served.url)
        run_job(page, GRACE)  # ~50 KB photo over a 5 KB limit
        message = "error: upload too large (limit 0.005 MB; start the app with --max-upload-mb to change it)"
        page.wait_for_function("() => document.getElementById('error').textContent.length > 0")
        assert page.inner_text("#error") == message
        page.close()
        body = b"--x\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.jpg\"\r\n\r\n" + \
            b"0" * 10_000 + b"\r\n--x--\r\n"
        request = urllib.request.Request(served.url + "api/jobs", data=body, method="POST",
                                         headers={"Content-Type": "multipart/form-data; boundary=x"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 413
        assert "error: " + json.load(refused.value)["error"] == message
        assert not served.jobs.jobs and not any(served.jobs.root.iterdir())  # nothing kept
    finally:
        served.close()
