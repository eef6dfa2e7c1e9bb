"""Network weights as safetensors: encoder + regressor only (the body model is a fixed input,
never saved), stored as float16 (half the size; inference reads them back as float32), with
the architecture in the file's metadata so that :func:`load_hmr` can rebuild the network."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from openhmr.body.base import BodyModel
from openhmr.errors import OpenHMRError
from openhmr.geometry.crop import STORED_MARGIN
from openhmr.io import atomic_path
from openhmr.nets.hmr import HMR, build_hmr
from openhmr.nets.weights_schema import check_metadata

# Format 2: ReLU in the IEF MLP, positive camera scale and bounded shape (see nets/theta.py).
FORMAT = "openhmr-hmr-2"
OLDER_FORMATS = ("openhmr-hmr-1",)


def network_state(hmr: HMR) -> dict[str, torch.Tensor]:
    """The trainable network's tensors (no body-model buffers)."""
    return {k: v for k, v in hmr.state_dict().items() if not k.startswith("body.")}


def save_weights(hmr: HMR, path: str | Path, extra: dict | None = None) -> Path:
    """Write ``path`` (.safetensors). ``extra`` (JSON-able) lands in the metadata, e.g. the
    training config and step."""
    from safetensors.torch import save

    body = hmr.body
    meta = {
        "format": FORMAT,
        "body_model": body.name,
        "num_joints": body.num_joints,
        "shape_dim": body.shape_dim,
        "backbone": hmr.encoder.name,
        "rotation": hmr.layout.rotation,
        "iterations": hmr.regressor.iterations,
        "keypoint_convention": hmr.keypoint_convention,
        "bounded_shape": hmr.layout.bounded_shape,
        "feedback": hmr.regressor.feedback_dim > 0,
        "crop_margin": hmr.crop_margin,
        "upright": hmr.upright,
    }
    if getattr(hmr.encoder, "spec", None) is not None:  # converted networks carry their structure
        meta["encoder_spec"] = hmr.encoder.spec
        meta["encoder_inputs"] = list(hmr.encoder.inputs)
    tensors = {
        k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in network_state(hmr).items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Serialised in memory and written through our atomic writer: safetensors' own file writer
    # leaves private (0600) files and temporaries of its own behind when killed.
    data = save(tensors, metadata={"openhmr": json.dumps(meta), "extra": json.dumps(extra or {})})
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def read_metadata(path: str | Path) -> tuple[dict, dict]:
    """(architecture, extra) of a weights file; one clear sentence when it is not ours."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise OpenHMRError(f"Checkpoint {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise OpenHMRError(f"Checkpoint {path} is not a readable .safetensors file ({e}).") from None
    if "openhmr" not in meta:
        raise OpenHMRError(f"Checkpoint {path} was not written by openhmr (no architecture in its metadata).")
    try:
        arch, extra = json.loads(meta["openhmr"]), json.loads(meta.get("extra", "{}"))
    except ValueError:
        raise OpenHMRError(f"Checkpoint {path} has metadata that is not JSON.") from None
    if not isinstance(arch, dict) or not isinstance(extra, dict):
        raise OpenHMRError(f"Checkpoint {path} has metadata that is not a JSON object.")
    if arch.get("format") in OLDER_FORMATS:
        raise OpenHMRError(
            f"Checkpoint {path} was written by an older openhmr ({arch['format']}) whose network differs "
            f"(no ReLU in the regressor, unbounded outputs); retrain it with this version or use the shipped model."
        )
    if arch.get("format") != FORMAT:
        raise OpenHMRError(f"Checkpoint {path} has format {arch.get('format')!r}; this openhmr reads {FORMAT!r}.")
    check_metadata(arch, path)
    return arch, extra


def load_hmr(path: str | Path, body: BodyModel) -> HMR:
    """Rebuild the network of weights file ``path`` around ``body``, in eval mode."""
    from safetensors.torch import load_file

    arch, _ = read_metadata(path)
    if arch["body_model"] != body.name or arch["num_joints"] != body.num_joints or arch["shape_dim"] != body.shape_dim:
        raise OpenHMRError(
            f"Checkpoint {path} was trained for the {arch['body_model']} body ({arch['num_joints']} joints, "
            f"{arch['shape_dim']} shape values), not the {body.name} body given ({body.num_joints} joints, "
            f"{body.shape_dim} shape values)."
        )
    hmr = build_hmr(
        body,
        backbone=arch["backbone"],
        backbone_weights=None,
        rotation=arch["rotation"],
        iterations=arch["iterations"],
        keypoint_convention=arch["keypoint_convention"],
        bounded=arch["bounded_shape"],
        encoder_spec=arch.get("encoder_spec"),
        encoder_inputs=arch.get("encoder_inputs"),
        feedback=arch.get("feedback", False),
        crop_margin=arch.get("crop_margin", STORED_MARGIN),
        upright=arch.get("upright", False),
    )
    _check_tensor_shapes(path, network_state(hmr))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    hmr.load_state_dict(state, strict=False)  # every network tensor is there, with its shape
    return hmr.eval()


def _check_tensor_shapes(path: Path, expected: dict[str, torch.Tensor]) -> None:
    """Every tensor the network needs is in the file with its shape, and nothing else is;
    read from the file's header, before any tensor is loaded."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        raise OpenHMRError(f"Checkpoint {path} does not fit the network: missing {missing[:3]}, unexpected {unexpected[:3]}.")
    for name, tensor in expected.items():
        if shapes[name] != tuple(tensor.shape):
            raise OpenHMRError(
                f"Checkpoint {path} does not fit the network: {name} has shape {list(shapes[name])}, "
                f"the network's is {list(tensor.shape)}."
            )


# The discriminator travels beside the network's weights in a file of its own: predict never
# needs it, fitting uses it as a realism prior (``openhmr.fit``).
DISCRIMINATOR_FORMAT = "openhmr-discriminator-1"


def discriminator_path(weights: str | Path) -> Path:
    """``model.safetensors`` -> ``model.discriminator.safetensors``."""
    weights = Path(weights)
    return weights.with_name(weights.stem + ".discriminator.safetensors")


def save_discriminator(discriminator: torch.nn.Module, path: str | Path) -> Path:
    """Write the discriminator's weights (float16) to ``path``."""
    from safetensors.torch import save

    meta = {"format": DISCRIMINATOR_FORMAT, "num_body_joints": discriminator.num_body_joints}
    tensors = {k: v.half().detach().cpu().contiguous() for k, v in discriminator.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(save(tensors, metadata={"openhmr": json.dumps(meta)}))
    return path


def load_discriminator(path: str | Path, body: BodyModel):
    """The :class:`Discriminator` stored at ``path`` for ``body``, in eval mode, frozen."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from openhmr.nets.discriminator import Discriminator

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("openhmr", "{}"))
        state = {k: v.float() for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise OpenHMRError(f"Cannot read discriminator {path} ({e}).") from None
    if meta.get("format") != DISCRIMINATOR_FORMAT:
        raise OpenHMRError(f"{path} is not an openhmr discriminator (format {meta.get('format')!r}).")
    discriminator = Discriminator(body.num_body_joints, body.shape_dim)
    try:
        discriminator.load_state_dict(state)
    except RuntimeError:
        raise OpenHMRError(f"Discriminator {path} does not fit the {body.name} body ({body.num_body_joints} body joints).") from None
    for p in discriminator.parameters():
        p.requires_grad_(False)
    return discriminator.eval()
