"""Training configuration: one dataclass, read from a TOML or JSON file, then ``key=value``
overrides (dotted keys reach nested sections, e.g. ``data.num_train=2000``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from openhmr.errors import OpenHMRError

REGIMES = ("paired", "partial", "unpaired", "2d-only")


@dataclasses.dataclass
class DataConfig:
    """Where images come from. With no ``train`` file, a synthetic experiment is prepared from
    the pose bank ``poses`` in ``work_dir``: clips split into train / test / discriminator."""

    poses: str | None = None  # pose bank .npz (from `openhmr mocap`)
    work_dir: str = "runs/data"
    num_train: int = 6000
    num_test: int = 600
    res: int = 224
    train: str | None = None  # SPIN-style annotations .npz
    test: str | None = None
    discriminator_poses: str | None = None  # pose bank for the discriminator's real samples
    # Real photos with 2D labels only, comma-separated `PATH[:SPLIT]` (an LSP / LSP-extended
    # folder, `lsp:train`, a COCO keypoint .json, a SPIN .npz); `real_share` of every batch.
    real: str | None = None
    real_share: float = 0.5
    augment: bool = True  # image training: augment every crop
    # Feature caching: crops cached per image; the first is unaugmented, the others augmented
    # (scale, shift, rotation, flip, colour, occluder) and drawn among in training.
    views: int = 2
    # Share of augmented crops cut like a photo that ends at the knees, hips or chest (the box
    # then frames what is left, as a detector's would): see openhmr.data.truncate.
    truncation: float = 0.0
    num_workers: int = 0


@dataclasses.dataclass
class TrainConfig:
    body_model: str = "anny"
    backbone: str = "efficientnet_lite0"
    backbone_weights: str | None = "default"
    # BlazePose encoders: the feature groups the regressor sees, comma-separated, from
    # trunk, landmarks, world, score ("all": every one).
    encoder_inputs: str = "all"
    rotation: str = "axis_angle"
    iterations: int = 3
    keypoint_convention: str = "coco23"
    # paired: 3D + parameters on every image; partial: on ``labelled_fraction`` of them;
    # unpaired: 2D + discriminator on unpaired mocap; 2d-only: 2D alone (no discriminator).
    regime: str = "partial"
    labelled_fraction: float = 0.1
    # Train from cached features: the first ``frozen_blocks`` encoder blocks are frozen and run
    # once per image ("none": the whole backbone is frozen and pooled features are cached;
    # "off": no cache, the whole network trains on augmented images).
    frozen_blocks: str = "6"
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-4  # HMR used 1e-5 with a ResNet-50 and far longer training
    disc_lr: float = 1e-4
    lr_schedule: str = "constant"  # or "cosine": the encoder's rate annealed to 0 over `steps`
    weight_decay: float = 1e-4
    loss_keypoints2d: float = 60.0
    loss_keypoints3d: float = 60.0
    loss_params: float = 60.0
    loss_adversarial: float = 1.0
    # 1 - soft IoU of the predicted body's silhouette with the person's mask (64² of the
    # crop), confidence-weighted; 0 turns masks off. Synthetic sets read the mask beside
    # each image; real sets the masks `openhmr masks` cached in data.work_dir.
    loss_silhouette: float = 0.0
    checkpoint_every: int = 500
    out_dir: str = "runs/default"
    seed: int = 0
    accelerator: str = "cpu"
    devices: str = "1"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"  # "16-mixed" / "bf16-mixed" on a GPU
    progress: bool = True
    data: DataConfig = dataclasses.field(default_factory=DataConfig)

    @property
    def uses_discriminator(self) -> bool:
        return self.regime != "2d-only"

    @property
    def fraction_3d(self) -> float:
        return {"paired": 1.0, "partial": self.labelled_fraction, "unpaired": 0.0, "2d-only": 0.0}[self.regime]

    @property
    def cached_blocks(self) -> int | None:
        """None: pooled features cached; an int: blocks cached. Only valid when caching."""
        return None if self.frozen_blocks == "none" else int(self.frozen_blocks)

    @property
    def optimiser_steps_per_batch(self) -> int:
        """Lightning counts optimiser steps: with a discriminator each batch takes two."""
        return 2 if self.uses_discriminator else 1

    @property
    def encoder_weights(self) -> str | None:
        """The backbone's starting weights, None for random initialisation."""
        return None if self.backbone_weights in (None, "none") else self.backbone_weights

    @property
    def encoder_input_groups(self) -> tuple[str, ...] | None:
        """None (the encoder's default) or the chosen BlazePose feature groups."""
        if self.encoder_inputs == "all":
            return None
        return tuple(g.strip() for g in self.encoder_inputs.split(",") if g.strip())

    @property
    def caches_features(self) -> bool:
        return self.frozen_blocks != "off"

    def validate(self) -> TrainConfig:
        if self.regime not in REGIMES:
            raise OpenHMRError(f"regime must be one of {', '.join(REGIMES)}; got {self.regime!r}.")
        if not 0.0 <= self.labelled_fraction <= 1.0:
            raise OpenHMRError(f"labelled_fraction must lie in [0, 1]; got {self.labelled_fraction}.")
        if self.lr_schedule not in ("constant", "cosine"):
            raise OpenHMRError(f"lr_schedule must be constant or cosine; got {self.lr_schedule!r}.")
        if self.frozen_blocks not in ("off", "none") and not self.frozen_blocks.isdigit():
            raise OpenHMRError(f"frozen_blocks must be 'off', 'none' or a block count; got {self.frozen_blocks!r}.")
        if self.encoder_inputs != "all":
            from openhmr.nets.blazepose import INPUT_GROUPS
            from openhmr.nets.encoder import BLAZEPOSE, canonical_backbone

            groups = self.encoder_input_groups
            if not groups or set(groups) - set(INPUT_GROUPS):
                raise OpenHMRError(f"encoder_inputs must be 'all' or some of {', '.join(INPUT_GROUPS)}; got {self.encoder_inputs!r}.")
            if canonical_backbone(self.backbone) not in BLAZEPOSE:
                raise OpenHMRError(f"encoder_inputs applies to the BlazePose encoders ({', '.join(BLAZEPOSE)}), not {self.backbone!r}.")
        if self.data.train is None and self.data.poses is None:
            raise OpenHMRError(
                "No training data: set data.poses=BANK.npz (made by `openhmr mocap`) to train on a "
                "synthetic set, or data.train=ANNOTATIONS.npz."
            )
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise OpenHMRError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if not 0.0 <= self.data.truncation <= 1.0:
            raise OpenHMRError(f"data.truncation must lie in [0, 1]; got {self.data.truncation}.")
        if self.data.views < 1:
            raise OpenHMRError(f"data.views must be at least 1; got {self.data.views}.")
        if self.data.real and not 0.0 < self.data.real_share < 1.0:
            raise OpenHMRError(f"data.real_share must lie strictly between 0 and 1; got {self.data.real_share}.")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        data = DataConfig(**_known(DataConfig, values.pop("data", {}) or {}, "data."))
        return cls(**_known(cls, values, ""), data=data)


def _known(cls, values: dict, prefix: str) -> dict:
    names = {f.name for f in dataclasses.fields(cls)} - {"data"}
    unknown = sorted(set(values) - names)
    if unknown:
        raise OpenHMRError(f"Unknown setting(s) {', '.join(prefix + u for u in unknown)}; known: {', '.join(sorted(names))}.")
    return values


def _parse_value(text: str, current):
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return None if text.lower() in ("null", "none") and current is None else text


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Defaults, then the file (``.toml`` or ``.json``), then ``key=value`` overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise OpenHMRError(f"Cannot read config {path}: {e.strerror}.") from None
        try:
            if path.suffix == ".json":
                values = json.loads(text)
            else:
                import tomllib

                values = tomllib.loads(text)
        except ValueError as e:
            raise OpenHMRError(f"Config {path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {e}.") from None
    config = TrainConfig.from_dict(values)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise OpenHMRError(f"Override {item!r} is not key=value.")
        target, name = (config.data, key[5:]) if key.startswith("data.") else (config, key)
        if name == "data" or not any(f.name == name for f in dataclasses.fields(target)):
            raise OpenHMRError(f"Unknown setting {key!r}.")
        current = getattr(target, name)
        try:
            setattr(target, name, _parse_value(text, current))
        except ValueError:
            kind = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(type(current).__name__, "a value")
            raise OpenHMRError(f"Setting {key} expects {kind}; got {text!r}.") from None
    return config.validate()
