"""The "monster" rate: how often a prediction leaves the space of real bodies. A prediction
is a monster when its shape lies outside the body model's shape bounds, or when any joint's
rotation is farther than ``max_degrees`` from every rotation that joint takes in a reference
pose bank (real motion capture)."""

from __future__ import annotations

import numpy as np
import torch

from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.mocap.pose_bank import PoseBank

MAX_DEGREES = 30.0  # far enough that unseen clips' real poses rarely count (see bench/weak_supervision.py)
SHAPE_SLACK = 0.05  # of the bound's width


def joint_distance_to_bank(body_rotmats: torch.Tensor, bank: PoseBank, chunk: int = 256) -> torch.Tensor:
    """(N, J-1, 3, 3) -> (N, J-1) degrees from each joint's rotation to its nearest in ``bank``."""
    reference = axis_angle_to_matrix(torch.from_numpy(bank.body_pose).float())  # (M, J-1, 3, 3)
    n, joints = body_rotmats.shape[:2]
    out = torch.empty(n, joints)
    for j in range(joints):
        ref = reference[:, j].reshape(-1, 9)  # trace(A^T B) = <A, B> elementwise
        for start in range(0, n, chunk):
            traces = body_rotmats[start : start + chunk, j].reshape(-1, 9).float() @ ref.T
            best = traces.max(dim=1).values
            out[start : start + chunk, j] = torch.rad2deg(torch.acos(((best - 1) / 2).clamp(-1, 1)))
    return out


def monster_kinds(
    body_rotmats: torch.Tensor,
    shape: torch.Tensor,
    bank: PoseBank,
    shape_low: torch.Tensor,
    shape_high: torch.Tensor,
    max_degrees: float = MAX_DEGREES,
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) bool each: impossible shape, and a joint rotation unseen in ``bank``; a prediction
    with either is a monster. body_rotmats (N, J-1, 3, 3), shape (N, S)."""
    slack = SHAPE_SLACK * (shape_high - shape_low)
    bad_shape = ((shape < shape_low - slack) | (shape > shape_high + slack)).any(dim=1)
    bad_joint = (joint_distance_to_bank(body_rotmats, bank) > max_degrees).any(dim=1)
    return bad_shape.numpy(), bad_joint.numpy()

