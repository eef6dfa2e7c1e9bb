"""Training configuration: two pydantic models, read from a TOML or JSON file, then
``key=value`` overrides (dotted keys reach nested sections, e.g. ``data.num_train=2000``). The
whole configuration is checked (types, ranges, unknown keys) before anything is prepared or
written."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES
from openhmr.geometry.crop import STORED_MARGIN

REGIMES = ("paired", "partial", "unpaired", "2d-only")


def _whole_number_as_text(value):
    """``devices = 1`` and ``frozen_blocks = 6`` mean what "1" and "6" mean."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_Text = Annotated[str, Field(min_length=1)]
_Count = Annotated[int, Field(ge=1)]
_Share = Annotated[float, Field(ge=0.0, le=1.0)]
_Weight = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
_Rate = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Settings(BaseModel):
    # Strict: "2" is not 2 and 2.5 is not a count; ints are accepted where numbers are.
    model_config = ConfigDict(strict=True, extra="forbid", validate_assignment=True)


class DataConfig(_Settings):
    """Where images come from. With no ``train`` file, a synthetic experiment is prepared from
    the pose bank ``poses`` in ``work_dir``: clips split into train / test / discriminator."""

    poses: _Text | None = None  # pose bank .npz (from `openhmr mocap`)
    work_dir: _Text = "runs/data"
    num_train: _Count = 6000
    num_test: _Count = 600
    res: Annotated[int, Field(ge=32, le=1024)] = CROP_RES
    # The synthetic set's look (openhmr.data.synth): "photo" (skin, hair, clothes, lights,
    # real backdrops, camera effects) or "plain" (the first sets); rendered into
    # work_dir/train-photo (photo) or work_dir/train (plain).
    synth_look: Literal["plain", "photo"] = "photo"
    # Folder of photos without people, the backdrops (default: ../shared/data/backgrounds when present).
    backgrounds: _Text | None = None
    # Poses from photos (`openhmr mocap --fits`): they pose `photo_pose_share` of the synthetic
    # training images and join the discriminator's bank; the test clips stay mocap only.
    photo_poses: _Text | None = None
    photo_pose_share: _Share = 0.3
    renderer: Literal["moderngl", "pyrender"] = "moderngl"  # the synthetic set's renderer (openhmr synth --renderer)
    train: _Text | None = None  # SPIN-style annotations .npz
    test: _Text | None = None
    discriminator_poses: _Text | None = None  # pose bank for the discriminator's real samples
    # Real photos with 2D labels only, comma-separated `PATH[:SPLIT]` (an LSP / LSP-extended
    # folder, `lsp:train`, a COCO keypoint .json, a SPIN .npz); `real_share` of every batch.
    real: _Text | None = None
    real_share: _Share = 0.5
    augment: bool = True  # image training: augment every crop
    # Feature caching: crops cached per image; the first is unaugmented, the others augmented
    # (scale, shift, rotation, flip, colour, occluder) and drawn among in training.
    views: Annotated[int, Field(ge=1, le=64)] = 2
    # Share of augmented crops cut like a photo that ends at the knees, hips or chest (the box
    # then frames what is left, as a detector's would): see openhmr.data.truncate.
    truncation: _Share = 0.0
    num_workers: Annotated[int, Field(ge=0, le=256)] = 0


class TrainConfig(_Settings):
    body_model: _Text = "anny"
    backbone: _Text = "efficientnet_lite0"
    backbone_weights: _Text | None = "default"
    # BlazePose encoders: the feature groups the regressor sees, comma-separated, from
    # trunk, landmarks, world, score ("all": every one).
    encoder_inputs: _Text = "all"
    # Which IEF iterations get the keypoint, 3D and parameter losses: "final" (HMR's TF code)
    # or "all" (averaged; the body is then decoded for every iteration).
    supervise: Literal["final", "all"] = "final"
    # Each IEF iteration also sees its body's 2D error against the encoder's own landmarks
    # (BlazePose encoders): see HMR.landmark_feedback.
    feedback: bool = False
    rotation: Literal["axis_angle", "6d"] = "axis_angle"
    # Dropout in the IEF regressor's two hidden layers, while training (HMR's 0.5).
    dropout: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = 0.5
    # The crop's side over the person's tight box (1.3: every source's boxes as stored, and
    # predict's framing; BlazePose's landmarks do better on wider crops). Saved with the
    # weights: eval and predict crop as the network was trained (see openhmr.data.framing).
    crop_margin: Annotated[float, Field(ge=1.0, le=3.0, allow_inf_nan=False)] = STORED_MARGIN
    # Every crop turned so its person stands upright (MediaPipe's person detector on the plain
    # crop, as `predict --upright` cuts them); evaluate such a network with upright crops.
    upright: bool = False
    iterations: Annotated[int, Field(ge=1, le=20)] = 3
    keypoint_convention: _Text = "coco23"
    # paired: 3D + parameters on every image; partial: on ``labelled_fraction`` of them;
    # unpaired: 2D + discriminator on unpaired mocap; 2d-only: 2D alone (no discriminator).
    regime: Literal[REGIMES] = "partial"
    labelled_fraction: _Share = 0.1
    # Train from cached features: the first ``frozen_blocks`` encoder blocks are frozen and run
    # once per image ("none": the whole backbone is frozen and pooled features are cached;
    # "off": no cache, the whole network trains on augmented images).
    frozen_blocks: Annotated[str, BeforeValidator(_whole_number_as_text), Field(pattern=r"^(off|none|\d+)$")] = "6"
    steps: _Count = 3000
    batch_size: _Count = 32
    lr: _Rate = 1e-4  # HMR used 1e-5 with a ResNet-50 and far longer training
    # The encoder's trainable layers (after a cached trunk) learn at lr × this: pretrained
    # weights want smaller steps than the freshly initialised regressor.
    encoder_lr_scale: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 1.0
    disc_lr: _Rate = 1e-4
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: the rate annealed to 0 over `steps`
    weight_decay: _Weight = 1e-4
    loss_keypoints2d: _Weight = 60.0
    loss_keypoints3d: _Weight = 60.0
    loss_params: _Weight = 60.0
    loss_adversarial: _Weight = 1.0
    # 1 - soft IoU of the predicted body's silhouette with the person's mask (64² of the
    # crop), confidence-weighted; 0 turns masks off. Synthetic sets read the mask beside
    # each image; real sets the masks `openhmr masks` cached in data.work_dir.
    loss_silhouette: _Weight = 0.0
    checkpoint_every: _Count = 500
    out_dir: _Text = "runs/default"
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"
    # A count, "auto", "-1" (every device) or a list of device indices "0,1".
    devices: Annotated[str, BeforeValidator(_whole_number_as_text), Field(pattern=r"^(auto|-1|\d+|\d+(,\d+)+)$")] = "1"
    num_nodes: _Count = 1
    strategy: _Text = "auto"
    precision: Literal["32-true", "32", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true"] = "32-true"
    progress: bool = True
    data: DataConfig = Field(default_factory=DataConfig)

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

    def check(self) -> TrainConfig:
        """What one field alone cannot say (each field was checked when the model was made)."""
        if self.encoder_inputs != "all":
            from openhmr.nets.blazepose import INPUT_GROUPS
            from openhmr.nets.encoder import BLAZEPOSE, canonical_backbone

            groups = self.encoder_input_groups
            if not groups or set(groups) - set(INPUT_GROUPS):
                raise OpenHMRError(f"encoder_inputs must be 'all' or some of {', '.join(INPUT_GROUPS)}; got {self.encoder_inputs!r}.")
            if canonical_backbone(self.backbone) not in BLAZEPOSE:
                raise OpenHMRError(f"encoder_inputs applies to the BlazePose encoders ({', '.join(BLAZEPOSE)}), not {self.backbone!r}.")
        if self.feedback:
            from openhmr.nets.encoder import BLAZEPOSE, canonical_backbone

            if canonical_backbone(self.backbone) not in BLAZEPOSE:
                raise OpenHMRError(f"feedback needs a BlazePose encoder ({', '.join(BLAZEPOSE)}), which finds landmarks; not {self.backbone!r}.")
            if self.encoder_input_groups is not None and "landmarks" not in self.encoder_input_groups:
                raise OpenHMRError("feedback needs the landmarks among encoder_inputs.")
        if self.data.train is None and self.data.poses is None:
            raise OpenHMRError(
                "No training data: set data.poses=BANK.npz (made by `openhmr mocap`) to train on a "
                "synthetic set, or data.train=ANNOTATIONS.npz."
            )
        if self.data.real and not 0.0 < self.data.real_share < 1.0:
            raise OpenHMRError(f"data.real_share must lie strictly between 0 and 1; got {self.data.real_share}.")
        return self

    def to_dict(self) -> dict:
        return self.model_dump()


def _unknown_keys(values: dict, model: type[BaseModel], prefix: str) -> None:
    """One sentence for a misspelt setting, with the nearest known name."""
    names = list(model.model_fields)
    other, other_prefix = (DataConfig, "data.") if model is TrainConfig else (TrainConfig, "")
    for key in values:
        if key not in names and key in other.model_fields and key != "data":
            where = "in the [data] section" if other is DataConfig else "outside the [data] section"
            raise OpenHMRError(f"Setting {prefix}{key} belongs {where}: {other_prefix}{key}.")
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {prefix}{near[0]}?" if near else f"; known: {', '.join(prefix + n for n in names)}."
            raise OpenHMRError(f"Unknown setting {prefix}{key}{hint}")


def _parse_override(text: str, default) -> object:
    """An override's text as a value of its field's type (that of its default): numbers,
    true/false, none. Text that does not parse stays text, for the model to refuse."""
    if isinstance(default, bool):
        words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
        return words.get(text.lower(), text)
    if isinstance(default, int | float):
        try:
            return type(default)(text)  # float("nan") is refused by the field (allow_inf_nan)
        except ValueError:
            return text
    return None if default is None and text.lower() in ("null", "none") else text


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"Setting {where}: {first['msg'][0].lower()}{first['msg'][1:]}; got {first['input']!r}."


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Defaults, then the file (``.toml`` or ``.json``), then ``key=value`` overrides; the
    result checked whole (OpenHMRError with one sentence)."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise OpenHMRError(f"Cannot read config {path}: {e.strerror}.") from None
        try:
            if path.suffix == ".json":
                values = json.loads(text, parse_constant=lambda name: float("nan"))  # NaN: refused below
            else:
                import tomllib

                values = tomllib.loads(text)
        except ValueError as e:
            raise OpenHMRError(f"Config {path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {e}.") from None
        if not isinstance(values, dict):
            raise OpenHMRError(f"Config {path} must hold settings (a table of key = value), not a {type(values).__name__}.")
    values = dict(values)
    if not isinstance(values.get("data", {}), dict):
        raise OpenHMRError(f"Setting data must be a section ([data] in TOML) of data settings; got {values['data']!r}.")
    data = dict(values.get("data", {}))
    _unknown_keys({k: v for k, v in values.items() if k != "data"}, TrainConfig, "")
    _unknown_keys(data, DataConfig, "data.")
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise OpenHMRError(f"Override {item!r} is not key=value.")
        target, model, name = (data, DataConfig, key[5:]) if key.startswith("data.") else (values, TrainConfig, key)
        _unknown_keys({name: None}, model, "data." if model is DataConfig else "")
        if name == "data":
            raise OpenHMRError("Setting data is a section: override its keys (data.poses=...).")
        target[name] = _parse_override(text, model.model_fields[name].get_default(call_default_factory=True))
    values["data"] = data
    try:
        config = TrainConfig.model_validate(values)
    except ValidationError as e:
        raise OpenHMRError(_first_problem(e)) from None
    return config.check()
