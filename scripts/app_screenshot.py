"""Screenshot of the ``synergywarp app`` page after animating the bundled demo (for the README).

Serves the page with the bundled model on a free loopback port, ticks "use the bundled portrait",
runs the bundled sample clip, pauses both videos on the same frame and screenshots the page with
Playwright in Debian's Chromium (never a downloaded browser).

    python scripts/app_screenshot.py --out docs/figures/app_page.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synergywarp.app.jobs import JobQueue
from synergywarp.app.server import RunningServer, create_app, run_animation
from synergywarp.inference import Animator

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/app_page.png"))
    parser.add_argument("--frame", type=float, default=1.2, help="video time shown (seconds)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    animator = Animator.from_pretrained(device="cpu")
    jobs = JobQueue(lambda job: run_animation(animator, job))
    server = RunningServer(create_app(animator, jobs=jobs), "127.0.0.1", 0).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.set_default_timeout(300_000)
            page.goto(server.url)
            page.check("#source-sample")
            page.click("#run")
            page.wait_for_selector("#status[data-state=done]")
            for video in ("#driving-video", "#result-video"):
                page.eval_on_selector(video, "(v, t) => new Promise(done => { v.pause(); v.currentTime = t; "
                                             "v.addEventListener('seeked', done, {once: true}); })", args.frame)
                page.wait_for_function("v => v.readyState === 4", arg=page.query_selector(video))
            page.mouse.move(0, 0)
            page.wait_for_timeout(1500)  # the players' loading indicators fade out
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        server.close()
        jobs.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
