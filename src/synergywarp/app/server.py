"""The local web page: one offline HTML page (no CDN, fonts or telemetry; a CSP forbids any other
origin), a small JSON API over the :class:`JobQueue`, and the MJPEG view of ``synergywarp live``.

API: ``GET /api/info``; ``POST /api/jobs`` (multipart: ``source`` or ``source_sample``,
``references``…, ``use_references``, ``driving`` or ``driving_choice=sample``, ``motion``, ``smooth``,
``output_size``) → the job's JSON or ``{"error": "..."}`` with the CLI's one-line message;
``GET /api/jobs/{id}`` (state, queue position, progress); ``/api/jobs/{id}/result.mp4``;
``/api/jobs/{id}/driving``; ``/api/sample/driving.mp4``; ``/api/live.mjpg`` and ``/api/live``.
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from synergywarp.app.jobs import Job, JobQueue, QueueFull, user_message
from synergywarp.app.live import LiveStream
from synergywarp.app.options import OUTPUT_SIZES, make_options, parse_number, parse_output_size
from synergywarp.errors import ConfigError, InputError, SynergyWarpError
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.demo import DEMO_DRIVING, demo_inputs
from synergywarp.inference.inputs import DrivingFrames
from synergywarp.io import is_image_path, read_image

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; font-src 'none'; object-src 'none'; frame-ancestors 'none'")


@dataclass
class AppLimits:
    """Upload limits: the whole request body, and the number of reference images."""

    max_upload_mb: float = 200.0
    max_references: int = 16

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class UploadTooLarge(SynergyWarpError):
    """The request body is over :attr:`AppLimits.max_upload_mb`."""


def run_animation(animator: Animator, job: Job):
    """The worker's job: animate into ``job.folder/result.mp4`` (progress into the job)."""
    out = job.folder / "result.mp4"
    result = animator.animate_to_file(job.source, job.driving, out, job.references, job.options,
                                      progress=job.progress)
    job.result = result.out
    return result


def error_response(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _safe_name(filename: str | None) -> str:
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", Path(filename or "").name).strip(" .")
    return name or "upload"


def _given(upload: object) -> bool:
    """A file part the user actually chose (browsers send empty parts for empty file inputs)."""
    return isinstance(upload, UploadFile) and bool(upload.filename) and (upload.size or 0) > 0


def _file(form: FormData, name: str) -> UploadFile | None:
    """The file the user chose for field ``name``, or None."""
    upload = form.get(name)
    return upload if isinstance(upload, UploadFile) and _given(upload) else None


def _text(form: FormData, name: str) -> str | None:
    """A text field's value (None when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def _save(upload: UploadFile, folder: Path, index: int) -> Path:
    target = folder / f"upload-{index}" / _safe_name(upload.filename)
    target.parent.mkdir()
    upload.file.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return target


def _flag(form: FormData, name: str) -> bool:
    return (_text(form, name) or "").lower() in ("1", "on", "true", "yes")


def build_job(form: FormData, job_id: str, folder: Path, limits: AppLimits,
              output_size: int | None = None) -> Job:
    """Check the form and the uploads (the CLI's checks and messages) and save them into ``folder``;
    ``output_size`` is used when the form asks for the default size."""
    size = parse_output_size(_text(form, "output_size"))
    options = make_options(motion=_text(form, "motion") or "relative",
                           smooth=parse_number("smoothing", _text(form, "smooth"), AnimateOptions.smooth),
                           output_size=size if size is not None else output_size)
    use_references = _flag(form, "use_references")
    ref_uploads = [u for u in form.getlist("references") if isinstance(u, UploadFile) and _given(u)]
    ref_uploads = ref_uploads if use_references else []
    if len(ref_uploads) > limits.max_references:
        raise InputError(f"too many reference images ({len(ref_uploads)}; at most {limits.max_references})")
    uploads = itertools.count()
    source_upload, driving_upload = _file(form, "source"), _file(form, "driving")
    references: list[Path]
    if _flag(form, "source_sample"):
        source, bundled_refs, _ = demo_inputs()
        references = bundled_refs if use_references and not ref_uploads else []
    elif source_upload is not None:
        source, references = _save(source_upload, folder, next(uploads)), []
    else:
        raise InputError("no source photo: choose an image file (or tick 'use the bundled portrait')")
    read_image(source)  # unreadable / not an image → the CLI's message, before the job is queued
    for upload in ref_uploads:
        references.append(_save(upload, folder, next(uploads)))
        read_image(references[-1])
    if (_text(form, "driving_choice") or "sample") == "sample":
        driving, driving_is_upload = DEMO_DRIVING, False
    elif driving_upload is not None:
        driving, driving_is_upload = _save(driving_upload, folder, next(uploads)), True
    else:
        raise InputError("no driving video: choose a video file (or pick the bundled sample clip)")
    frames = DrivingFrames(driving, options.fps)  # probes the video: unreadable → InputError
    return Job(id=job_id, folder=folder, source=source, references=references, driving=driving, options=options,
               total=frames.num_frames, driving_is_upload=driving_is_upload)


async def read_form(request: Request, limits: AppLimits) -> FormData:
    """The multipart body, refused past ``limits`` (UploadTooLarge) or when malformed (InputError)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError("expected a multipart/form-data upload")
    too_large = UploadTooLarge(f"upload too large (limit {limits.max_upload_mb:g} MB; start the app with "
                               "--max-upload-mb to change it)")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limits.max_bytes:
        raise too_large

    async def limited():
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limits.max_bytes:
                raise too_large
            yield chunk

    parser = MultiPartParser(request.headers, limited(), max_files=limits.max_references + 2, max_fields=32)
    try:
        return await parser.parse()
    except MultiPartException as err:
        raise InputError(f"bad upload: {err.message}") from None


class AppState:
    """What the routes share: the animator's description, the job queue, the live stream, the limits."""

    def __init__(self, description: str, jobs: JobQueue | None, live: LiveStream | None, limits: AppLimits):
        self.description, self.jobs, self.live, self.limits = description, jobs, live, limits

    def job_json(self, jobs: JobQueue, job: Job) -> dict:
        base = f"/api/jobs/{job.id}"
        driving_kind = "image" if is_image_path(job.driving) else "video"
        return {
            "id": job.id, "state": job.state, "position": jobs.position(job), "waiting": jobs.waiting(),
            "stage": job.stage, "done": job.done, "total": job.total, "error": job.error,
            "warnings": job.warnings, "num_frames": job.num_frames, "seconds": round(job.seconds, 2),
            "result_url": f"{base}/result.mp4" if job.state == "done" else None,
            "driving_url": f"{base}/driving" if job.driving_is_upload else "/api/sample/driving.mp4",
            "driving_kind": driving_kind,
        }


def public_description(animator: Animator | None) -> str:
    """The animator's one-line description with its checkpoint named by file name only (the page does
    not show where files live on this computer)."""
    if animator is None:
        return ""
    text = animator.describe()
    path = animator.checkpoint_path
    return text.replace(str(path), path.name) if path is not None else text


def create_app(animator: Animator | None, *, jobs: JobQueue | None = None, live: LiveStream | None = None,
               limits: AppLimits | None = None, output_size: int | None = None) -> Starlette:
    """The Starlette app. ``jobs``: the queue the page submits to (None: live view only); ``live``:
    the stream ``synergywarp live --show web`` publishes to (None: no live panel); ``output_size``:
    the side used when the page asks for the default (``synergywarp app --size``)."""
    default_size = None if animator is None else animator.output_size(AnimateOptions(output_size=output_size))
    state = AppState(public_description(animator), jobs, live, limits or AppLimits())
    no_store = {"Cache-Control": "no-store"}

    async def index(request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                            headers={"Content-Security-Policy": CSP, **no_store})

    async def info(request: Request) -> Response:
        return JSONResponse({"model": state.description, "jobs": jobs is not None, "live": live is not None,
                             "output_sizes": list(OUTPUT_SIZES), "default_output_size": default_size,
                             "max_upload_mb": state.limits.max_upload_mb,
                             "max_references": state.limits.max_references,
                             "defaults": {"smooth": AnimateOptions.smooth, "motion": AnimateOptions.motion}},
                            headers=no_store)

    async def submit(request: Request) -> Response:
        if jobs is None:
            return error_response("this page runs the live view only (start `synergywarp app` for uploads)", 404)
        try:
            form = await read_form(request, state.limits)
        except UploadTooLarge as err:
            return error_response(str(err), 413)
        except SynergyWarpError as err:
            return error_response(str(err))
        job_id, folder = jobs.new_folder()
        try:
            job = await run_in_threadpool(build_job, form, job_id, folder, state.limits, output_size)
            jobs.submit(job)
        except SynergyWarpError as err:
            jobs.discard(folder)
            return error_response(user_message(folder, str(err)), 503 if isinstance(err, QueueFull) else 400)
        finally:
            await form.close()
        return JSONResponse(state.job_json(jobs, job), status_code=202, headers=no_store)

    def find(request: Request) -> Job | None:
        return jobs.get(request.path_params["job_id"]) if jobs is not None else None

    async def job_status(request: Request) -> Response:
        job = find(request)
        if job is None or jobs is None:
            return error_response("no such job (finished jobs are kept for a while only)", 404)
        return JSONResponse(state.job_json(jobs, job), headers=no_store)

    async def job_result(request: Request) -> Response:
        job = find(request)
        if job is None or job.state != "done" or job.result is None or not job.result.is_file():
            return error_response("no result for this job", 404)
        name = f"synergywarp_{job.id}.mp4" if request.query_params.get("download") else None
        return FileResponse(job.result, media_type="video/mp4", filename=name, headers=no_store)

    async def job_driving(request: Request) -> Response:
        job = find(request)
        if job is None or not job.driving.is_file():
            return error_response("the driving video of this job is gone", 404)
        kind = mimetypes.guess_type(job.driving.name)[0] or ""
        media_type = kind if kind.startswith(("video/", "image/")) and "svg" not in kind else "application/octet-stream"
        return FileResponse(job.driving, media_type=media_type,
                            headers={**no_store, "X-Content-Type-Options": "nosniff"})

    async def sample_driving(request: Request) -> Response:
        return FileResponse(DEMO_DRIVING, media_type="video/mp4")

    async def live_status(request: Request) -> Response:
        if live is None:
            return error_response("no live session (start `synergywarp live --show web`)", 404)
        return JSONResponse(live.status(), headers=no_store)

    async def live_mjpeg(request: Request) -> Response:
        if live is None:
            return error_response("no live session (start `synergywarp live --show web`)", 404)

        async def parts():
            seen = -1
            while True:
                jpeg, version = live.latest()
                if jpeg is not None and version != seen:
                    seen = version
                    yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                           + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                elif live.closed:
                    return
                else:
                    await asyncio.sleep(0.01)

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame", headers=no_store)

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_status),
        Route("/api/jobs/{job_id}/result.mp4", job_result),
        Route("/api/jobs/{job_id}/driving", job_driving),
        Route("/api/sample/driving.mp4", sample_driving),
        Route("/api/live", live_status),
        Route("/api/live.mjpg", live_mjpeg),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


class RunningServer:
    """A uvicorn server on a socket bound here (``port=0``: any free port), in the foreground
    (:meth:`serve`) or a background thread (:meth:`start`); ``url`` is where it listens."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 7860):
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as err:
            self.socket.close()
            reason = err.strerror or err
            raise ConfigError(f"cannot listen on {host}:{port} ({reason}); choose another --port") from None
        self.socket.listen(128)
        bound = self.socket.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{bound}/"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve in this thread until Ctrl+C (uvicorn's own signal handling)."""
        self.server.run(sockets=[self.socket])

    def start(self, timeout: float = 20.0) -> RunningServer:
        """Serve in a daemon thread; returns once the server accepts connections."""
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="synergywarp-http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SynergyWarpError(f"the web server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self.socket.close()
