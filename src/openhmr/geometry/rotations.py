"""Rotation representations, all through ``roma`` (no hand-written conversions).

axis-angle (..., 3) as in HMR's θ; 6D (..., 6) as in SPIN (the first two columns of the
matrix, re-orthonormalised by Gram-Schmidt); matrices (..., 3, 3) inside losses.
"""

from __future__ import annotations

import roma
import torch


def axis_angle_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3)."""
    return roma.rotvec_to_rotmat(rotvec)


def matrix_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3), angles in [0, pi]."""
    return roma.rotmat_to_rotvec(rotmat)


def sixd_to_matrix(sixd: torch.Tensor) -> torch.Tensor:
    """(..., 6) two stacked column vectors -> (..., 3, 3) rotation."""
    columns = sixd.unflatten(-1, (2, 3)).transpose(-1, -2)  # (..., 3, 2)
    return roma.special_gramschmidt(columns)


def matrix_to_sixd(rotmat: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): its first two columns."""
    return rotmat[..., :, :2].transpose(-1, -2).flatten(-2)
