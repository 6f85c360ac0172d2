"""The Animator: crop → motion → warp → decode → paste-back, streaming over the driving frames.

Source and reference work (face crops, ``encode_source``, ``encode_references``, identity check) is
done once per :meth:`Animator.prepare`; driving frames are decoded, animated ``options.batch`` at a
time and yielded, so memory does not grow with the video's length (the tracking pass keeps ~1 KB
of landmarks per frame). Writing videos is in :mod:`synergywarp.inference.output`.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synergywarp.assets import resolve_checkpoint
from synergywarp.face import apply_crop, paste_back, tracked_keypoints
from synergywarp.face.crop import resize_crop
from synergywarp.face.prior import PriorWarp, prior_and_reference_grids, prior_grid_size
from synergywarp.face.segment import SEGMENT_SIZE
from synergywarp.inference.identity import warn_on_identity_mismatch
from synergywarp.inference.inputs import (
    DrivingFrames,
    DrivingTrack,
    ImageInput,
    PreparedFace,
    ProgressCallback,
    center_square_crop,
    prepare_face,
    track_driving,
)
from synergywarp.inference.live import LiveSession
from synergywarp.inference.motion import DrivingMotion, OneEuroFilter, driving_motion
from synergywarp.inference.options import SHARP_OUTPUT_SIZE, AnimateOptions
from synergywarp.inference.runtime import Runtime
from synergywarp.io.tensors import images_to_tensor as to_tensor
from synergywarp.io.tensors import tensor_to_images as to_uint8
from synergywarp.models import ModelConfig, ReferenceTokens, SourceState, SynergyWarpNet


@dataclass
class AnimatedFrame:
    """One output frame. image: the final frame (H×W×3 full source with the face pasted back, or the
    animated crop); crop: the animated crop S'×S'×3; driving: the driving crop S×S×3 the model saw;
    keypoints: the driving keypoints K×3 used; face_found: False where the motion was held."""

    index: int
    image: np.ndarray
    crop: np.ndarray
    driving: np.ndarray
    keypoints: np.ndarray
    face_found: bool


@dataclass
class PreparedSource:
    """Cached per-source work: the source (and reference) crops, the network's source state and
    reference tokens, and the fusion mode used (``explicit`` when RAC was never trained)."""

    source: PreparedFace
    references: list[PreparedFace]
    state: SourceState
    reference_tokens: ReferenceTokens | None
    fusion_mode: str | None
    options: AnimateOptions
    prior: PriorWarp | None = None  # the source's geometric prior warp (models with a prior candidate)
    output_size: int | None = None  # side of the animated crop
    reference_images: torch.Tensor | None = None  # 1×R×3×S'×S' references at the output size (pixel fusion)
    reference_warps: list[PriorWarp] | None = None  # each reference's warp (cgf.reference_warp; pixel fusion)

    @property
    def keypoints(self) -> np.ndarray:
        """The source's keypoints ``K×3`` (crop cube)."""
        return self.state.keypoints[0].detach().float().cpu().numpy()


@dataclass
class _Session:
    """Per-call state of :meth:`Animator.animate` (driving reference frame, hold value, filter)."""

    prepared: PreparedSource
    frames: DrivingFrames | None  # None for a live session (frames come one at a time)
    track: DrivingTrack | None
    driving: DrivingMotion  # the driving's motion for the model's keypoint kind
    held_motion: np.ndarray  # what is held and smoothed: K×3 keypoints (learned) or 468×3 landmarks (tracked)
    smoother: OneEuroFilter


@dataclass
class FrameInputs:
    """What the network needs for a batch of driving frames once their motion is known: the frames'
    ``indices``, driving ``crops`` S×S×3, ``valid`` (False where the motion was held), ``keypoints``
    N×K×3, the prior grids N×S×S×2 and the references' grids N×R×S×S×2 (models that use them)."""

    indices: list[int]
    crops: list[np.ndarray]
    valid: list[bool]
    keypoints: np.ndarray
    prior: torch.Tensor | None
    reference_grids: torch.Tensor | None


@dataclass
class LiveFrame:
    """A live frame whose tracking and motion are done (:meth:`Animator.track_frame`), ready for
    :meth:`Animator.render_frame`; ``index`` counts the frames given to the session."""

    prepared: PreparedSource
    inputs: FrameInputs
    index: int


class Animator:
    """Animate portraits with a SynergyWarp network (see :meth:`from_pretrained` and :meth:`animate`)."""

    def __init__(self, model: SynergyWarpNet, runtime: Runtime | None = None, *,
                 checkpoint_path: str | Path | None = None):
        self.runtime = runtime or Runtime.create("cpu", "fp32")
        self.model = self.runtime.prepare_model(model)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self._animate_fn = self.runtime.frame_function(self.model)
        #: seconds spent per stage since creation (tracking, crop, motion, model, paste_back; the
        #: file writer adds encoding) — what benchmarks/animate_speed.py reports
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self._timing_lock = threading.Lock()

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the block's wall time to ``stage_seconds[stage]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._timing_lock:  # frames may render on several threads
                self.stage_seconds[stage] += elapsed

    @classmethod
    def from_pretrained(cls, checkpoint: str | Path | None = None, device: str = "auto", dtype: str = "auto",
                        compile: bool = False, backend: str = "torch", live: bool = False) -> Animator:
        """Load a checkpoint (default: the bundled demo model; with ``live`` the bundled live model, its
        network at 64²) onto ``device`` with compute ``dtype``, the per-frame network run by ``backend``
        (``torch``, ``jit``: TorchScript, ``onnx``: ONNX Runtime, both on the CPU; ``auto``: jit on a CPU
        in fp32, else torch)."""
        runtime = Runtime.create(device, dtype, compile, backend)
        path = resolve_checkpoint(checkpoint, live=live)
        return cls(SynergyWarpNet.from_pretrained(path, map_location="cpu"), runtime, checkpoint_path=path)

    # ------------------------------------------------------------------ facts about the model
    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def trained_stages(self) -> list[str] | None:
        """The checkpoint's ``trained_stages`` metadata, or None when it does not record them."""
        return self.model.trained_stages

    @property
    def rac_usable(self) -> bool:
        """RAC is built and (when the checkpoint says) trained."""
        stages = self.trained_stages
        return self.model.rac is not None and (stages is None or "rac" in stages)

    def describe(self) -> str:
        """One line: model name, motion, resolution, checkpoint, device and trained stages."""
        cfg = self.config
        stages = self.trained_stages
        origin = f" from {self.checkpoint_path}" if self.checkpoint_path else ""
        trained = f"; trained stages: {', '.join(stages)}" if stages is not None else ""
        metadata = self.model.checkpoint_metadata
        if metadata is not None and metadata.source:
            trained += f"; source: {metadata.source}"
        sizes = (f"{cfg.image_size}² network, output at any size" if cfg.decoder.image_skip
                 else f"{cfg.image_size}² → {cfg.output_size}²")
        return f"model {cfg.name} ({cfg.motion} motion, {sizes}){origin} on {self.runtime.describe()}{trained}"

    # ------------------------------------------------------------------ source and references (once)
    def prepare(self, source: ImageInput, references: Iterable[ImageInput] = (),
                options: AnimateOptions | None = None) -> PreparedSource:
        """Crop the source and references, encode them once, check the references' identity."""
        options = (options or AnimateOptions()).validate()
        size, landmarks = self.config.image_size, self.model.motion_source.uses_landmarks
        src = prepare_face(source, size, options, need_landmarks=landmarks, name="source image")
        refs = list(references)
        fusion_mode = options.fusion_mode
        if refs and not self.rac_usable:
            why = ("'s RAC stage was never trained (trained_stages: "
                   f"{', '.join(self.trained_stages or [])})" if self.model.rac is not None else " has no RAC")
            warnings.warn(f"{len(refs)} reference image(s) unused: the checkpoint{why}; "
                          "using the explicit path", stacklevel=2)
            refs = []
        if not self.rac_usable:
            fusion_mode = "explicit"
        prepared_refs = [prepare_face(r, size, options, need_landmarks=landmarks, name=f"reference image {i}")
                         for i, r in enumerate(refs)]
        if prepared_refs and options.check_identity and src.box is not None:
            boxed = [(r.name, r.image, r.box) for r in prepared_refs if r.box is not None]
            warn_on_identity_mismatch((src.image, src.box), boxed)
        runtime, model = self.runtime, self.model
        out_size = self.output_size(options)
        sharp = self.config.decoder.image_skip and out_size != size
        with runtime.context():
            source_kp = self._keypoints_tensor([src]) if landmarks else None
            source_hr = runtime.to_device(to_tensor([self._crop_at(src, out_size)])) if sharp else None
            state = model.encode_source(runtime.to_device(to_tensor([src.crop_image])), source_kp, image_hr=source_hr)
            tokens = None
            if model.rac is not None and fusion_mode != "explicit":
                images = keypoints = None
                if prepared_refs:
                    images = runtime.to_device(to_tensor([r.crop_image for r in prepared_refs]))[None]
                    keypoints = self._keypoints_tensor(prepared_refs)[None] if landmarks else None
                tokens = model.encode_references(state, images, keypoints)
        dense = self.config.warp.dense_motion
        prior = None
        if dense.prior_candidate:
            image = self._segmentable(src) if dense.prior_kind == "head" else None  # the mesh needs no mask
            prior = PriorWarp(dense.prior_kind, src.required_landmarks(), image)
        reference_images = reference_warps = None
        if model.pixel_fusion is not None and fusion_mode != "explicit" and prepared_refs:
            crops = [self._crop_at(r, out_size) if sharp else r.crop_image for r in prepared_refs]
            reference_images = runtime.to_device(to_tensor(crops))[None]
            kind = self.config.cgf.reference_warp
            reference_warps = PriorWarp.for_references(
                kind, [r.required_landmarks() for r in prepared_refs],
                [self._segmentable(r) if kind == "head" else None for r in prepared_refs])
        return PreparedSource(src, prepared_refs, state, tokens, fusion_mode, options, prior, out_size,
                              reference_images, reference_warps)

    def output_size(self, options: AnimateOptions | None = None) -> int:
        """Side of the animated crop: ``options.output_size``, else 512 for models that warp the source at
        any size (``decoder.image_skip``), else the model's own output size."""
        if options is not None and options.output_size is not None:
            return int(options.output_size)  # other models' outputs are resized after the network
        return SHARP_OUTPUT_SIZE if self.config.decoder.image_skip else self.config.output_size

    @staticmethod
    def _crop_at(face: PreparedFace, size: int) -> np.ndarray:
        """The face's crop square sampled at ``size``² from its full image."""
        if face.crop.size == size:
            return face.crop_image
        return apply_crop(face.image, resize_crop(face.crop, size), border="replicate")

    @classmethod
    def _segmentable(cls, face: PreparedFace) -> np.ndarray:
        """The face's crop at no less than the person segmenter's input size, for its person mask (the mask
        of a 64² crop is an upsampled guess; evaluation segments 256² crops)."""
        return cls._crop_at(face, max(face.crop.size, SEGMENT_SIZE))

    def _keypoints_tensor(self, faces: Sequence[PreparedFace]) -> torch.Tensor:
        """Tracked keypoints ``N×32×3`` of prepared faces, on the device."""
        points = np.stack([tracked_keypoints(f.required_landmarks()) for f in faces]).astype(np.float32)
        return torch.from_numpy(points).to(self.runtime.device)

    # ------------------------------------------------------------------ driving (streamed)
    def animate(self, source: ImageInput | PreparedSource, driving: ImageInput | Iterable[np.ndarray],
                references: Iterable[ImageInput] = (), options: AnimateOptions | None = None, *,
                progress: ProgressCallback | None = None) -> Iterator[AnimatedFrame]:
        """Animate ``source`` with ``driving`` (video/image path, frame folder, T×H×W×3 array or
        iterable of frames); returns an iterator of :class:`AnimatedFrame`.

        Source, references and the driving's tracking pass are processed now (errors raise here);
        frames are then animated lazily as the iterator is consumed. A :class:`PreparedSource` (from
        :meth:`prepare`) brings its own references and options; ``references``/``options`` are then unused.
        """
        prepared = source if isinstance(source, PreparedSource) else self.prepare(source, references, options)
        session = self._start(prepared, driving, progress)
        return self._stream(session, progress)

    def animate_to_file(self, source: ImageInput, driving: ImageInput | Iterable[np.ndarray], out: str | Path,
                        references: Iterable[ImageInput] = (), options: AnimateOptions | None = None, **kwargs):
        """Animate and write ``out``; see :func:`synergywarp.inference.output.animate_to_file` for the
        keyword options (compare, frames_dir, overwrite, progress). Returns an AnimationResult."""
        from synergywarp.inference.output import animate_to_file

        return animate_to_file(self, source, driving, out, references, options, **kwargs)

    def start_live(self, prepared: PreparedSource, fps: float = 25.0) -> LiveSession:
        """A session for :meth:`animate_frame`: driving frames that arrive one at a time (a camera) at
        about ``fps``. Close it (or use ``with``) to free its face tracker."""
        return LiveSession(prepared, float(fps), self.config.image_size, self.model.motion_source.uses_landmarks)

    def animate_frame(self, live: LiveSession, frame: np.ndarray) -> AnimatedFrame | None:
        """Animate one driving frame H×W×3 uint8 RGB of a live session (the same motion transfer,
        smoothing and paste-back as :meth:`animate`); None until a frame with a face arrives.
        ``index`` counts the frames given to the session. Equal to :meth:`render_frame` of
        :meth:`track_frame`."""
        work = self.track_frame(live, frame)
        return None if work is None else self.render_frame(work)

    def track_frame(self, live: LiveSession, frame: np.ndarray) -> LiveFrame | None:
        """The in-order half of :meth:`animate_frame`: face tracking, crop, motion (held and smoothed)
        and prior grids of one frame; None until a frame with a face arrives. Call it for the frames
        in their order, from one thread."""
        with self.timed("tracking"):
            tracked = live.track(frame)
        if tracked is None:
            return None
        track, crop = tracked
        if live.stream is None:
            live.stream = self._begin(live.source, None, track, crop, 0, live.fps)
        live.stream.track = track
        return LiveFrame(live.source, self._batch_inputs(live.stream, [(0, crop)]), live.frames_seen - 1)

    def render_frame(self, work: LiveFrame) -> AnimatedFrame:
        """The other half: the network and the paste-back of a tracked frame. Reads no session state,
        so consecutive frames may render on several threads at once (see ``synergywarp live
        --workers``)."""
        animated = next(self._render(work.prepared, work.inputs, None))
        animated.index = work.index
        return animated

    def _start(self, prepared: PreparedSource, driving, progress: ProgressCallback | None) -> _Session:
        options, cfg = prepared.options, self.config
        landmarks = self.model.motion_source.uses_landmarks
        frames = driving if isinstance(driving, DrivingFrames) else DrivingFrames(driving, options.fps)
        track = None
        if options.crop or landmarks:
            if not frames.reiterable:
                frames.materialise()
            with self.timed("tracking"):
                track = track_driving(frames, cfg.image_size, options, need_landmarks=landmarks, progress=progress)
        first_index = track.first_valid if track is not None else 0
        first_crop = None
        if frames.reiterable:
            reader = iter(frames)
            for index, frame in enumerate(reader):
                if index == first_index:
                    first_crop = self._driving_crop(frame, index, track)
                    break
            reader.close()
        return self._begin(prepared, frames, track, first_crop, first_index, frames.fps)

    def _begin(self, prepared: PreparedSource, frames: DrivingFrames | None, track: DrivingTrack | None,
               first_crop: np.ndarray | None, first_index: int, fps: float) -> _Session:
        """The per-stream state, given the driving's reference frame (its crop and track index)."""
        options = prepared.options
        with self.runtime.context():
            driving = driving_motion(self.model, prepared.source, prepared.state, options.motion, track, first_index,
                                     first_crop, self._to_images)
        session = _Session(prepared, frames, track, driving, held_motion=driving.initial,
                           smoother=OneEuroFilter(options.smooth, fps))
        if options.motion == "absolute" and first_crop is not None:
            session.held_motion = self._motion(session, [first_crop], [first_index])[0]
        return session

    def _to_images(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """Crops ``N×S×S×3`` uint8 → the network's input ``N×3×S×S`` on the device."""
        return self.runtime.to_device(to_tensor(crops))

    def _driving_crop(self, frame: np.ndarray, index: int, track: DrivingTrack | None) -> np.ndarray:
        if track is not None and index < track.num_frames:
            crop = track.crops[index]
        else:
            crop = center_square_crop(frame.shape[0], frame.shape[1], self.config.image_size)
        return apply_crop(frame, crop, border="replicate")

    def _motion(self, session: _Session, crops: Sequence[np.ndarray], indices: Sequence[int]) -> np.ndarray:
        """Raw (unheld, unsmoothed) driving motion for driving crops: keypoints ``N×K×3`` (learned) or the
        source's landmarks moved by the driving ``N×468×3`` (tracked)."""
        with self.runtime.context():
            return session.driving.raw(crops, indices, session.track)

    def _stream(self, session: _Session, progress: ProgressCallback | None) -> Iterator[AnimatedFrame]:
        batch: list[tuple[int, np.ndarray]] = []
        size = session.prepared.options.batch
        for index, frame in enumerate(session.frames or ()):  # (a live session's frames come one at a time)
            with self.timed("crop"):
                crop = self._driving_crop(frame, index, session.track)
            batch.append((index, crop))
            if len(batch) == size:
                yield from self._animate_batch(session, batch, progress)
                batch = []
        if batch:
            yield from self._animate_batch(session, batch, progress)

    def _animate_batch(self, session: _Session, batch: list[tuple[int, np.ndarray]],
                       progress: ProgressCallback | None) -> Iterator[AnimatedFrame]:
        yield from self._render(session.prepared, self._batch_inputs(session, batch), progress)

    def _batch_inputs(self, session: _Session, batch: list[tuple[int, np.ndarray]]) -> FrameInputs:
        """The in-order half of a batch: its motion (held where no face was found, then smoothed: this
        updates the session) and the prior grids."""
        prepared = session.prepared
        indices = [i for i, _ in batch]
        crops = [c for _, c in batch]
        with self.timed("motion"):
            raw = self._motion(session, crops, indices)
        valid = [session.track is None or (i < session.track.num_frames and bool(session.track.valid[i]))
                 for i in indices]
        motion = np.empty_like(raw)
        for row, ok in enumerate(valid):
            if ok:
                session.held_motion = raw[row]
            motion[row] = session.smoother(session.held_motion)
        keypoints = session.driving.keypoints(motion)
        grid_size = prior_grid_size(self.config.image_size)
        priors = references = None
        if prepared.prior is not None or prepared.reference_warps is not None:
            with self.timed("mesh_warp"):
                priors, references = prior_and_reference_grids(prepared.prior, prepared.reference_warps, motion,
                                                               grid_size)
        prior = torch.from_numpy(priors).to(self.runtime.device) if priors is not None else None
        reference_grids = torch.from_numpy(references).to(self.runtime.device) if references is not None else None
        return FrameInputs(indices, crops, valid, keypoints, prior, reference_grids)

    def _render(self, prepared: PreparedSource, inputs: FrameInputs,
                progress: ProgressCallback | None) -> Iterator[AnimatedFrame]:
        """The network and the paste-back of a batch's inputs; reads no session state, so batches of one
        stream may render on several threads at once."""
        options = prepared.options
        out_size = prepared.output_size or self.config.output_size
        skip = self.config.decoder.image_skip
        with self.timed("model"), self.runtime.context():
            out = self._animate_fn(prepared.state, torch.from_numpy(inputs.keypoints).to(self.runtime.device),
                                   prepared.reference_tokens, fusion_mode=prepared.fusion_mode,
                                   prior_grid=inputs.prior, output_size=out_size if skip else None,
                                   reference_images=prepared.reference_images, reference_grids=inputs.reference_grids)
            image = out.image
            if image.shape[-1] != out_size:  # a model that cannot render at other sizes: resize its output
                image = torch.nn.functional.interpolate(image.float(), size=(out_size, out_size), mode="bicubic",
                                                        align_corners=False, antialias=image.shape[-1] > out_size)
            animated = to_uint8(image)  # copies to the host, so device time is included
        source = prepared.source
        for row, index in enumerate(inputs.indices):
            image = animated[row]
            if options.crop and options.paste_back:
                with self.timed("paste_back"):
                    image = paste_back(source.image, animated[row], source.crop, feather=options.feather)
            if progress is not None:
                progress("animating", 1)
            yield AnimatedFrame(index=index, image=image, crop=animated[row], driving=inputs.crops[row],
                                keypoints=inputs.keypoints[row], face_found=inputs.valid[row])
