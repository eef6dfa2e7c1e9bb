"""What a weights file's metadata may say, checked (types and ranges) before any network is
built: a file from elsewhere must not be able to ask for a billion IEF iterations, a gigantic
layer or a structure whose layers read tensors nothing wrote."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from openhmr.errors import OpenHMRError
from openhmr.geometry.crop import STORED_MARGIN

MAX_ITERATIONS = 20  # HMR uses 3; more is a corrupt or hostile file
MAX_LAYER_SIZE = 65536  # no channel count, kernel or shape in a converted network comes near
_Count = Annotated[int, Field(ge=1, le=10_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class LayerSpec(_Strict):
    """One layer of a converted network (see :mod:`openhmr.nets.tflite.graph`)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    op: Literal["conv", "add", "pad", "max_pool", "resize", "reshape", "logistic", "concat", "depth_to_space"]
    args: dict
    inputs: list[Annotated[int, Field(ge=0)] | None]
    output: Annotated[int, Field(ge=0)]

    @field_validator("args")
    @classmethod
    def _sizes_bounded(cls, args: dict) -> dict:
        def numbers(value):
            if isinstance(value, dict):
                for v in value.values():
                    yield from numbers(v)
            elif isinstance(value, list):
                for v in value:
                    yield from numbers(v)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                yield value

        if any(not abs(v) <= MAX_LAYER_SIZE for v in numbers(args)):
            raise ValueError(f"a layer size is beyond {MAX_LAYER_SIZE}")
        return args


class EncoderSpec(_Strict):
    """A converted encoder's structure: each layer reads the input or earlier layers' outputs."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)  # encoders add their own keys
    input: Annotated[int, Field(ge=0)]
    outputs: list[Annotated[int, Field(ge=0)]]
    layers: Annotated[list[LayerSpec], Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _wired(self) -> EncoderSpec:
        written, names = {self.input}, set()
        for layer in self.layers:
            if layer.name in names:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            names.add(layer.name)
            unread = [i for i in layer.inputs if i is not None and i not in written]
            if unread:
                raise ValueError(f"layer {layer.name!r} reads tensor {unread[0]}, which no earlier layer writes")
            written.add(layer.output)
        missing = [i for i in self.outputs if i not in written]
        if missing:
            raise ValueError(f"output tensor {missing[0]} is written by no layer")
        return self


class HMRMetadata(_Strict):
    """The ``openhmr`` metadata of an HMR weights file (written by ``save_weights``)."""

    format: str
    body_model: Annotated[str, Field(min_length=1, max_length=64)]
    num_joints: _Count
    shape_dim: _Count
    backbone: Annotated[str, Field(min_length=1, max_length=128)]
    rotation: Literal["axis_angle", "6d"]
    iterations: Annotated[int, Field(ge=1, le=MAX_ITERATIONS)]
    keypoint_convention: str
    relu: Literal[True] = True  # format 2's IEF MLP always has its ReLUs; older files say so
    bounded_shape: bool
    encoder_spec: EncoderSpec | None = None
    encoder_inputs: list[str] | None = None
    feedback: bool = False  # files from before landmark feedback lack it
    crop_margin: Annotated[float, Field(ge=1.0, le=3.0, allow_inf_nan=False)] = STORED_MARGIN  # older files lack it
    upright: bool = False  # trained on crops turned upright (older files lack it)

    @field_validator("keypoint_convention")
    @classmethod
    def _known_convention(cls, name: str) -> str:
        from openhmr.body.keypoints import CONVENTIONS

        if name not in CONVENTIONS:
            raise ValueError(f"unknown keypoint convention {name!r}")
        return name

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, name: str) -> str:
        import timm

        from openhmr.nets.encoder import _TIMM_NAMES, BLAZEPOSE, canonical_backbone

        name = canonical_backbone(name)
        if name not in BLAZEPOSE and not timm.is_model(_TIMM_NAMES.get(name, name)):
            raise ValueError(f"unknown backbone {name!r}")
        return name

    @field_validator("encoder_inputs")
    @classmethod
    def _known_groups(cls, groups: list[str] | None) -> list[str] | None:
        from openhmr.nets.blazepose import INPUT_GROUPS

        if groups is not None and (not groups or set(groups) - set(INPUT_GROUPS)):
            raise ValueError(f"encoder inputs must be some of {', '.join(INPUT_GROUPS)}")
        return groups

    @model_validator(mode="after")
    def _spec_for_converted(self) -> HMRMetadata:
        from openhmr.nets.encoder import BLAZEPOSE

        if (self.backbone in BLAZEPOSE) != (self.encoder_spec is not None):
            raise ValueError("a BlazePose backbone needs its encoder_spec, and only it has one")
        if self.feedback and (self.backbone not in BLAZEPOSE or (self.encoder_inputs and "landmarks" not in self.encoder_inputs)):
            raise ValueError("landmark feedback needs a BlazePose encoder that sees its landmarks")
        return self


def check_metadata(arch: dict, path) -> HMRMetadata:
    """``arch`` checked; OpenHMRError naming ``path`` and the first problem otherwise."""
    try:
        return HMRMetadata.model_validate(arch)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "metadata"
        raise OpenHMRError(f"Checkpoint {path} has invalid metadata: {where}: {first['msg']}.") from None
