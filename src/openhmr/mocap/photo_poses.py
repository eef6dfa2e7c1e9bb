"""Poses from photos: the good fits of ``openhmr fit-labels`` as a pose bank.

Motion capture rarely holds what sports photos show (dives, vaults, tackles); bodies fitted to
the human labels of LSP-style photos do. Only fits that were accepted and close to the labels
are kept, each with its mirror image (left and right swapped), heading removed as in every bank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from openhmr.errors import OpenHMRError
from openhmr.mocap.pose_bank import PoseBank, remove_heading


def bank_from_fits(path: str | Path, body, max_error_px: float = 10.0, mirror: bool = True) -> PoseBank:
    """The fits in ``path`` (an ``openhmr fit-labels`` .npz) that are ``good`` and within
    ``max_error_px`` crop pixels of the labels, plus their mirror images: one clip named after
    the file (and one ``<name>-mirrored``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            pose, good, error = f["pose"], f["good"].astype(bool), f["fit_error_px"]
            body_model = str(f["body_model"])
    except (OSError, KeyError, ValueError) as e:
        raise OpenHMRError(f"Cannot read fits {path} ({e}); make them with `openhmr fit-labels`.") from None
    if body_model != body.name:
        raise OpenHMRError(f"{path} holds {body_model} fits; the bank is for {body.name}.")
    keep = np.flatnonzero(good & (error <= max_error_px))
    if len(keep) == 0:
        raise OpenHMRError(f"No fit in {path} is good and within {max_error_px} px.")
    joints = pose.shape[1] // 3
    rotations = torch.from_numpy(pose[keep].reshape(len(keep), joints, 3)).float()
    orient, body_pose = rotations[:, 0], rotations[:, 1:]
    parts = [(orient, body_pose, path.stem)]
    if mirror:
        mirrored = body.mirror_pose(orient, body_pose)
        parts.append((mirrored[0], mirrored[1], f"{path.stem}-mirrored"))
    banks = [
        PoseBank(b.numpy().astype(np.float32), remove_heading(o).numpy().astype(np.float32), np.zeros(len(keep), np.int64),
                 np.array([name]), keep.astype(np.int64), body_model)
        for o, b, name in parts
    ]  # fmt: skip
    return PoseBank.concatenate(banks)
