"""Similarity (Procrustes) alignment, as used by PA-MPJPE."""

from __future__ import annotations

import roma
import torch


def similarity_transform(
    source: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares scale s, rotation R, translation t with ``s R x + t ≈ y``.

    source, target (B, N, 3) -> s (B,), R (B, 3, 3), t (B, 3). Uses roma's Umeyama solver.
    """
    rotation, translation, scale = roma.rigid_points_registration(
        source, target, compute_scaling=True
    )
    return scale, rotation, translation


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` (B, N, 3) moved onto ``target`` (B, N, 3) by the best similarity."""
    scale, rotation, translation = similarity_transform(source, target)
    return scale[:, None, None] * source @ rotation.transpose(-1, -2) + translation[:, None]
