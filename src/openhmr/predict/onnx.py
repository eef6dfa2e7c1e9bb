"""The networks of ``predict`` as ONNX files, and ``predict`` running them with onnxruntime.

``export_onnx(model, folder)`` writes:
- ``hmr.onnx``: crops (B, 3, 224, 224) RGB in [0, 1] -> HMR's final IEF iteration: ``theta``
  (B, D) raw, ``camera`` (B, 3) weak perspective [s, tx, ty], ``rotations`` (B, J, 3)
  axis-angle (6D for a 6D layout), global orientation first, ``shape`` (B, S). Rotation
  matrices are left to the reader (roma's conversion traces with a fixed batch). The network
  stops at θ: the body model stays outside
  (Anny's skinning runs through NVIDIA Warp kernels, which ONNX cannot express), and openhmr
  decodes θ with the same body as in PyTorch.
- ``pose_detector.onnx``: images (B, 3, 224, 224) in [-1, 1] -> MediaPipe's person detector's
  ``regressors`` (B, 2254, 12) and ``scores`` (B, 2254, 1) logits (decoded by
  :mod:`openhmr.detect.pose_detector`).
- ``onnx.json``: each file's inputs and outputs with their shapes, the checkpoint, the body
  model and θ's layout.

``OnnxNetwork(folder)`` runs ``hmr.onnx`` where ``predict`` would run the PyTorch network
(``load_model(..., runtime="onnx")``, ``predict --runtime onnx``); refinement still fits with
PyTorch. The legacy TorchScript exporter is used (opset 17): the files' batch size is free.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openhmr.detect.pose_detector import DETECTOR_RES, detector_model_path
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES
from openhmr.io import atomic_path
from openhmr.nets.blazepose import cache_dir
from openhmr.nets.hmr import HMR
from openhmr.nets.tflite import TFLiteGraph

OPSET = 17
FORMAT = "openhmr-onnx-1"


class FinalTheta(nn.Module):
    """crops (B, 3, 224, 224) -> theta (B, D), camera (B, 3), rotations (B, J, r), shape (B, S):
    HMR without its body model (rotations in θ's representation: axis-angle, r = 3, or 6D)."""

    def __init__(self, hmr: HMR):
        super().__init__()
        if hmr.regressor.feedback_dim:
            raise OpenHMRError("This network feeds the body's projection back into its regressor, which needs the body "
                               "model inside the loop: it cannot be exported up to θ.")  # fmt: skip
        self.hmr = hmr

    def forward(self, crops: torch.Tensor):
        theta = self.hmr.regressor(self.hmr.encoder(crops), None)[-1]
        camera, rotations, shape = self.hmr.layout.to_params(theta)
        return theta, camera, rotations, shape


def _export(module: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_names: list[str]) -> None:
    try:
        import onnx  # noqa: F401  (the exporter writes through it)
    except ImportError:
        raise OpenHMRError("Exporting to ONNX needs the onnx package: pip install 'openhmr[onnx]'.") from None
    import warnings

    axes = {name: {0: "batch"} for name in [input_name, *output_names]}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(module.eval(), (example,), str(tmp), input_names=[input_name], output_names=output_names,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)  # fmt: skip


def export_onnx(model, folder: str | Path) -> Path:
    """Write the ONNX files of ``model`` (a :class:`openhmr.predict.predictor.Model`) into
    ``folder``; returns the path of ``onnx.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hmr = model.hmr
    theta_net = FinalTheta(hmr)
    device = next(hmr.parameters()).device
    crops = torch.rand(2, 3, CROP_RES, CROP_RES, device=device)
    with torch.no_grad():
        outputs = theta_net(crops)
    names = ["theta", "camera", "rotations", "shape"]
    _export(theta_net, crops, folder / "hmr.onnx", "crops", names)
    detector = TFLiteGraph.from_file(detector_model_path()).eval()
    images = torch.rand(2, 3, DETECTOR_RES, DETECTOR_RES) * 2 - 1
    _export(detector, images, folder / "pose_detector.onnx", "images", ["regressors", "scores"])
    layout = hmr.layout
    description = {
        "format": FORMAT,
        "checkpoint": Path(str(model.checkpoint)).name,
        "body_model": model.body.name,
        "theta_layout": dataclasses.asdict(layout),
        "files": {
            "hmr.onnx": {"inputs": {"crops": ["batch", 3, CROP_RES, CROP_RES]},
                         "outputs": {n: ["batch", *o.shape[1:]] for n, o in zip(names, outputs)},
                         "note": "RGB in [0, 1]; camera = [s, tx, ty] weak perspective of the crop; rotations in theta_layout's representation, global orientation first"},
            "pose_detector.onnx": {"inputs": {"images": ["batch", 3, DETECTOR_RES, DETECTOR_RES]},
                                   "outputs": {"regressors": ["batch", 2254, 12], "scores": ["batch", 2254, 1]},
                                   "note": "RGB in [-1, 1], the whole image letterboxed; scores are logits"},
        },
    }  # fmt: skip
    path = folder / "onnx.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(description, indent=2) + "\n")
    return path


class OnnxNetwork:
    """``net(crops)`` (B, 3, 224, 224) tensor -> θ (B, D) tensor, from ``hmr.onnx`` in ``folder``."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise OpenHMRError("The ONNX runtime is not installed: pip install 'openhmr[onnx]'.") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(str(Path(folder) / "hmr.onnx"), options, providers=["CPUExecutionProvider"])

    def __call__(self, crops: torch.Tensor) -> torch.Tensor:
        (theta,) = self.session.run(["theta"], {"crops": np.ascontiguousarray(crops.cpu().numpy(), dtype=np.float32)})
        return torch.from_numpy(theta)


def cached_export(model) -> Path:
    """The ONNX files of ``model``, exported once into the cache (keyed by the network's
    weights) and reused; returns their folder."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.hmr.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    folder = cache_dir() / "onnx" / digest.hexdigest()[:16]
    if not (folder / "onnx.json").is_file():
        export_onnx(model, folder)
    return folder
