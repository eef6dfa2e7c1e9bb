"""Body models behind one interface: ``load_body_model("anny")`` or an SMPL file path."""

from __future__ import annotations

from pathlib import Path

import torch

from openhmr.body.base import BodyModel, BodyOutput
from openhmr.errors import OpenHMRError

__all__ = ["BodyModel", "BodyOutput", "load_body_model"]


def load_body_model(
    spec: str | Path = "anny", dtype: torch.dtype = torch.float32, num_betas: int = 10
) -> BodyModel:
    """``"anny"`` (default, free) or the path of an SMPL ``.pkl``/``.npz`` file."""
    if str(spec).lower() == "anny":
        from openhmr.body.anny_body import AnnyBody

        return AnnyBody(dtype=dtype)
    if str(spec).lower() == "smpl":
        raise OpenHMRError(
            "The SMPL body model needs its file: pass the path of your SMPL .pkl or .npz "
            "instead of 'smpl'."
        )
    from openhmr.body.smpl import SMPLBody

    return SMPLBody(spec, num_betas=num_betas, dtype=dtype)
