"""The per-frame network on ONNX Runtime (CPU, fp32).

:class:`OnnxAnimate` is called like ``SynergyWarpNet.animate`` (the :class:`~synergywarp.inference.Animator`
calls it through ``Runtime.frame_function``). For each set of input shapes it exports ``animate`` with the
source state, the reference tokens and images, the prior grid and the driving keypoints as graph inputs
(so one export serves every source of that shape), checks the graph against PyTorch on those inputs
(max abs ≤ :data:`PARITY_TOLERANCE` on the image; otherwise the call stays on PyTorch, with a warning),
and caches the ``.onnx`` file under ``cache_dir()/onnx`` keyed by the weights, the shapes, the opset and
torch's version. 5D ``grid_sample`` exports as ONNX ``GridSample`` (opset 20), which ONNX Runtime
computes in 5D on the CPU.

A smaller batch than an exported one (a video's last batch) is padded to it; batch rows are independent.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from synergywarp.assets import cache_dir
from synergywarp.atomic import publish, temporary_sibling
from synergywarp.models import ReferenceTokens, SourceState, SynergyWarpNet

OPSET = 20  # the first opset with N-D GridSample
PARITY_TOLERANCE = 1e-3  # max abs difference of the exported image from PyTorch's, checked at export
FORMAT_VERSION = 1  # bump when the graph's inputs change meaning
#: inputs with one row per driving frame (padded when a smaller batch reuses a graph)
PER_FRAME = ("driving_keypoints", "prior_grid", "reference_grids", "reference_mask")


def pad_to_built_batch(inputs: dict[str, torch.Tensor], built: Iterable[int]) -> tuple[dict[str, torch.Tensor], int]:
    """``(inputs, batch)``: the per-frame inputs (:data:`PER_FRAME`) padded with copies of their last row to
    the smallest already built batch size that holds them (so a clip's last, shorter batch reuses the graph
    of the full ones instead of building another), or unchanged with their own batch size. Padding needs
    the other inputs at batch 1 (the source's); the caller keeps the first ``n`` rows of the output."""
    n = inputs["driving_keypoints"].shape[0]
    shared_source = all(t.shape[0] == 1 for name, t in inputs.items() if name not in PER_FRAME)
    fitting = sorted(b for b in built if b >= n) if shared_source else []
    batch = fitting[0] if fitting else n
    if batch > n:
        inputs = {name: torch.cat([t, t[-1:].expand(batch - n, *t.shape[1:])]) if name in PER_FRAME else t
                  for name, t in inputs.items()}
    return inputs, batch


def onnx_cache_folder() -> Path:
    """Where exported graphs are kept: ``cache_dir()/onnx`` (``$SYNERGYWARP_CACHE`` or ``~/.cache/synergywarp``)."""
    return cache_dir() / "onnx"


def weights_digest(model: nn.Module, config: dict[str, Any]) -> str:
    """SHA-256 of the model's config and every tensor of its state dict (names, shapes, values)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)}".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def frame_inputs(model: SynergyWarpNet, source: SourceState, driving_keypoints: torch.Tensor,
                 references: ReferenceTokens | None, fusion_mode: str | None, prior_grid: torch.Tensor | None,
                 reference_images: torch.Tensor | None, reference_grids: torch.Tensor | None,
                 reference_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The graph's named inputs (CPU, contiguous; fp32 or bool) for one ``animate`` call; absent ones omitted."""
    tokens = model.frame_tokens(source, references, fusion_mode)
    named: dict[str, torch.Tensor | None] = {
        "driving_keypoints": driving_keypoints, "volume": source.volume, "source_keypoints": source.keypoints,
        "source_image": source.image, "source_image_hr": source.image_hr,
        "prior_grid": prior_grid if model.config.warp.dense_motion.prior_candidate else None,
    }
    if tokens is not None:
        named.update({f"keys_{i}": k for i, k in enumerate(tokens.keys)})
        named.update({f"values_{i}": v for i, v in enumerate(tokens.values)})
        named["token_mask"] = tokens.mask
    if reference_images is not None and reference_grids is not None and reference_images.shape[1] > 0:
        if reference_mask is not None and reference_mask.shape[0] == 1 < reference_grids.shape[0]:
            # a per-frame input (padded per row, graphs keyed without its batch): one row per frame, as
            # PyTorch broadcasts a 1×R mask
            reference_mask = reference_mask.expand(reference_grids.shape[0], *reference_mask.shape[1:])
        named.update(reference_images=reference_images, reference_grids=reference_grids,
                     reference_mask=reference_mask)
    out = {}
    for name, tensor in named.items():
        if tensor is not None:
            tensor = tensor.detach().to("cpu")
            out[name] = (tensor if tensor.dtype == torch.bool else tensor.float()).contiguous()
    return out


class FrameGraph(nn.Module):
    """``animate`` as a module of positional tensors (what the exporter traces): inputs named ``names``
    (see :func:`frame_inputs`), output the image ``N×3×S'×S'``."""

    def __init__(self, model: SynergyWarpNet, names: Sequence[str], fusion_mode: str | None,
                 output_size: int | None):
        super().__init__()
        self.model = model
        self.names = list(names)
        self.fusion_mode = fusion_mode
        self.output_size = output_size
        self.train(False)  # the exporter restores this mode on the whole tree, the model included

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, tensors))
        state = SourceState(volume=named["volume"], keypoints=named["source_keypoints"],
                            image=named.get("source_image"), image_hr=named.get("source_image_hr"))
        tokens = None
        if "token_mask" in named:
            layers = sum(name.startswith("keys_") for name in named)
            tokens = ReferenceTokens(keys=[named[f"keys_{i}"] for i in range(layers)],
                                     values=[named[f"values_{i}"] for i in range(layers)],
                                     mask=named["token_mask"], num_references=torch.zeros(1, dtype=torch.long))
        out = self.model.animate(state, named["driving_keypoints"], tokens, fusion_mode=self.fusion_mode,
                                 prior_grid=named.get("prior_grid"), output_size=self.output_size,
                                 reference_images=named.get("reference_images"),
                                 reference_grids=named.get("reference_grids"),
                                 reference_mask=named.get("reference_mask"))
        return out.image


def _resize_antialiased(g: Any, input: Any, output_size: Any, align_corners: Any, scale_factors: Any) -> Any:
    """ONNX symbolic of ``aten::_upsample_bilinear2d_aa`` (``F.interpolate(..., antialias=True)``, which
    torch's exporter lacks): ``Resize`` with ``antialias=1`` (opset ≥ 18), to ``output_size``."""
    from torch.onnx import symbolic_helper

    corners = symbolic_helper._maybe_get_const(align_corners, "b")
    if symbolic_helper._is_packed_list(output_size):  # sizes the tracer recorded from tensor shapes
        size = g.op("Concat", *[symbolic_helper._unsqueeze_helper(g, g.op("Cast", item, to_i=7), [0])
                                for item in symbolic_helper._unpack_list(output_size)], axis_i=0)
    else:
        size = g.op("Constant", value_t=torch.tensor(symbolic_helper._maybe_get_const(output_size, "is"),
                                                     dtype=torch.int64))
    leading = g.op("Slice", g.op("Shape", input), g.op("Constant", value_t=torch.tensor([0])),
                   g.op("Constant", value_t=torch.tensor([2])))
    full = g.op("Concat", leading, size, axis_i=0)
    empty = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
    return g.op("Resize", input, empty, empty, full, mode_s="linear", antialias_i=1,
                coordinate_transformation_mode_s="align_corners" if corners else "half_pixel")


#: exporter symbolics used during :meth:`OnnxAnimate._load_or_export` only (registered, then removed)
SYMBOLICS = {"aten::_upsample_bilinear2d_aa": _resize_antialiased}


@dataclass
class ImageOutput:
    """What the ONNX backend computes of :class:`~synergywarp.models.outputs.AnimateOutput`: the image only
    (``N×3×S'×S'`` in [0, 1]); the other fields need ``--backend torch``."""

    image: torch.Tensor


class _Graph:
    """One exported graph: its ONNX Runtime session (None: this shape runs on PyTorch) and batch size."""

    def __init__(self, session: Any | None, batch: int):
        self.session = session
        self.batch = batch
        self.input_names = {item.name for item in session.get_inputs()} if session is not None else set()

    def run(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        feeds = {name: tensor.numpy() for name, tensor in inputs.items() if name in self.input_names}
        assert self.session is not None
        return torch.from_numpy(np.asarray(self.session.run(["image"], feeds)[0]))


class GraphBackend:
    """What the graph backends share: ``SynergyWarpNet.animate``'s signature, its arguments turned into the
    graph's named inputs (:func:`frame_inputs`) for :meth:`run`; the image only is computed."""

    name = "graph"
    model: SynergyWarpNet

    def __call__(self, source: SourceState, driving_keypoints: torch.Tensor,
                 references: ReferenceTokens | None = None, *, fusion_mode: str | None = None,
                 return_explicit: bool = False, prior_grid: torch.Tensor | None = None,
                 output_size: int | None = None, reference_images: torch.Tensor | None = None,
                 reference_grids: torch.Tensor | None = None,
                 reference_mask: torch.Tensor | None = None) -> ImageOutput:
        if return_explicit:
            raise ValueError(f"the {self.name} backend renders the image only (return_explicit needs --backend torch)")
        inputs = frame_inputs(self.model, source, driving_keypoints, references, fusion_mode, prior_grid,
                              reference_images, reference_grids, reference_mask)
        return self.run(inputs, fusion_mode, output_size)

    def run(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None, output_size: int | None) -> ImageOutput:
        """The image for these named inputs."""
        raise NotImplementedError


class OnnxAnimate(GraphBackend):
    """``SynergyWarpNet.animate`` on ONNX Runtime (returns an :class:`ImageOutput`, ``.image`` N×3×S'×S' on the CPU).

    Every ``animate`` input is a graph input (``output_size`` and ``fusion_mode`` select the graph), pixel
    references (``reference_images``/``reference_grids``/``reference_mask``) included. Only the image is
    computed: the other outputs (``fusion_weights``, features, flow) and ``return_explicit`` need
    ``--backend torch``.

    ``threads``: ONNX Runtime's intra-op threads (torch's count when None); ``folder``: the export cache
    (:func:`onnx_cache_folder` when None). ``exports`` counts the graphs exported by this object (a cached
    file is loaded instead); ``max_error`` maps each graph file to its export check's max abs error."""

    def __init__(self, model: SynergyWarpNet, threads: int | None = None, folder: str | Path | None = None):
        self.model = model
        self.threads = threads
        self.folder = Path(folder) if folder is not None else onnx_cache_folder()
        self.exports = 0
        self.max_error: dict[str, float] = {}
        self._digest: str | None = None
        self._graphs: dict[tuple[str, int], _Graph] = {}

    name = "onnx"

    def run(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None, output_size: int | None) -> ImageOutput:
        n = inputs["driving_keypoints"].shape[0]
        shape_key = self._shape_key(inputs, fusion_mode, output_size)
        inputs, batch = pad_to_built_batch(inputs, [b for key, b in self._graphs if key == shape_key])
        graph = self._graphs.get((shape_key, batch))
        if graph is None:
            graph = self._graphs[(shape_key, batch)] = self._load_or_export(inputs, fusion_mode, output_size)
        if graph.session is None:
            with torch.no_grad():
                image = FrameGraph(self.model, list(inputs), fusion_mode, output_size)(*inputs.values())
        else:
            image = graph.run(inputs)
        return ImageOutput(image=image[:n])

    # ------------------------------------------------------------------ export and cache
    def _shape_key(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None, output_size: int | None) -> str:
        """Everything an exported graph depends on but the batch size of the per-frame inputs."""
        if self._digest is None:
            self._digest = weights_digest(self.model, self.model.config.to_dict())
        shapes = [[name, list(t.shape[1:] if name in PER_FRAME else t.shape), str(t.dtype)]
                  for name, t in inputs.items()]
        fields = {"format": FORMAT_VERSION, "torch": torch.__version__.split("+")[0], "opset": OPSET,
                  "weights": self._digest, "fusion_mode": fusion_mode, "output_size": output_size,
                  "inputs": shapes}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]

    def graph_path(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None, output_size: int | None) -> Path:
        """The cache file of the graph for these inputs (batch included)."""
        batch = inputs["driving_keypoints"].shape[0]
        return self.folder / (f"{self.model.config.name}-{self._shape_key(inputs, fusion_mode, output_size)}"
                              f"-b{batch}.onnx")

    def _session(self, model: bytes | str) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self.threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def _load_or_export(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None,
                        output_size: int | None) -> _Graph:
        batch = inputs["driving_keypoints"].shape[0]
        path = self.graph_path(inputs, fusion_mode, output_size)
        if path.is_file():
            try:
                return _Graph(self._session(str(path)), batch)
            except Exception:  # a damaged cache file (onnxruntime raises its own types): export it again
                pass
        graph = FrameGraph(self.model, list(inputs), fusion_mode, output_size)
        with torch.inference_mode(False), torch.no_grad(), tempfile.TemporaryDirectory() as folder:
            args = tuple(t.clone() for t in inputs.values())  # normal tensors (the Animator's are inference ones)
            exported = Path(folder) / path.name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on shapes it records as constants
                for name, symbolic in SYMBOLICS.items():
                    torch.onnx.register_custom_op_symbolic(name, symbolic, OPSET)
                try:
                    torch.onnx.export(graph, args, exported, dynamo=False, opset_version=OPSET,
                                      input_names=list(inputs), output_names=["image"])
                finally:
                    for name in SYMBOLICS:
                        torch.onnx.unregister_custom_op_symbolic(name, OPSET)
            expected = graph(*args)
            data = exported.read_bytes()
        self.exports += 1
        session = self._session(data)
        got = _Graph(session, batch).run(inputs)
        error = float((got - expected).abs().max()) if got.shape == expected.shape else float("inf")
        self.max_error[path.name] = error
        if not error <= PARITY_TOLERANCE:
            warnings.warn(f"the ONNX export of {self.model.config.name} differs from PyTorch by {error:.2g} "
                          f"(> {PARITY_TOLERANCE}); these frames run on PyTorch", stacklevel=3)
            return _Graph(None, batch)
        self._write(path, data)
        return _Graph(session, batch)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Cache the graph atomically; an unwritable cache only costs the export next time (a warning)."""
        temporary = temporary_sibling(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            publish(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            warnings.warn(f"could not cache the ONNX graph in {path.parent} ({error.strerror or error}); "
                          "it will be exported again next time", stacklevel=4)
