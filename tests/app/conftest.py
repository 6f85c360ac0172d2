"""Fixtures of the web page and live tests: a tiny random-weights Animator, the app served on a
free loopback port, and Debian's Chromium driven by Playwright (the system browser, never a download)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from synergywarp.app.jobs import JobQueue
from synergywarp.app.server import AppLimits, RunningServer, create_app, run_animation
from synergywarp.inference import Animator
from synergywarp.models import create_model

ASSETS = Path(__file__).resolve().parents[2] / "src" / "synergywarp" / "assets"
GRACE = ASSETS / "portraits" / "grace_hopper.jpg"
SAMPLE_DRIVING = ASSETS / "demo" / "driving.mp4"
CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root on a machine with no network: no sandbox, no background connections.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def tiny_animator() -> Animator:
    torch.manual_seed(0)
    return Animator(create_model("tiny_tracked"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_tracked.safetensors"
    create_model("tiny_tracked").save_pretrained(path, trained_stages=["explicit"])
    return path


class ServedApp:
    """The app on a free port, with its queue (``autostart=False``: the worker waits for ``jobs.start()``)."""

    def __init__(self, animator: Animator, *, autostart: bool = True, limits: AppLimits | None = None):
        self.jobs = JobQueue(lambda job: run_animation(animator, job), autostart=autostart)
        self.server = RunningServer(create_app(animator, jobs=self.jobs, limits=limits), "127.0.0.1", 0).start()
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()
        self.jobs.close()


@pytest.fixture
def served(tiny_animator) -> Iterator[ServedApp]:
    app = ServedApp(tiny_animator)
    yield app
    app.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Debian Chromium under Playwright (.ci/run installs it; missing → the tests fail)."""
    assert CHROMIUM.is_file(), "Debian's chromium is missing: apt-get install -y chromium (.ci/run does it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, served):
    """A fresh page on the served app; fails the test if the page requests any other origin."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    foreign: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(served.url) else foreign.append(request.url))
    page.goto(served.url)
    yield page
    context.close()
    assert not foreign, f"the page reached other origins: {foreign}"


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """``synergywarp.cli.main`` run in a folder: (exit status, captured ``.out`` and ``.err``)."""
    from synergywarp import cli

    def run(cwd: Path, *argv):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        status = cli.main([str(a) for a in argv])
        return status, capsys.readouterr()

    return run


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """The first 12 frames of the bundled driving clip (25 fps): a short upload."""
    from synergywarp.io import VideoWriter, read_video

    frames, fps = read_video(SAMPLE_DRIVING)
    path = tmp_path_factory.mktemp("clips") / "short clip.mp4"
    with VideoWriter(path, fps) as writer:
        writer.write(frames[:12])
    return path
