"""Similarity (Procrustes) alignment, as used by PA-MPJPE."""

from __future__ import annotations

import roma
import torch


def similarity_transform(
    source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares scale s, rotation R, translation t with ``s R x + t ≈ y``.

    source, target (B, N, 3), optional weights (B, N) (0 leaves a point out) -> s (B,),
    R (B, 3, 3), t (B, 3). Uses roma's Umeyama solver.
    """
    rotation, translation, scale = roma.rigid_points_registration(
        source, target, weights=weights, compute_scaling=True
    )
    return scale, rotation, translation


def procrustes_align(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``source`` (B, N, 3) moved onto ``target`` (B, N, 3) by the best similarity (fitted on
    the points with positive ``weights`` (B, N) when given)."""
    scale, rotation, translation = similarity_transform(source, target, weights)
    return scale[:, None, None] * source @ rotation.transpose(-1, -2) + translation[:, None]
