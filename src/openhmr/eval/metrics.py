"""Pose metrics on batches of joints: pelvis-aligned MPJPE, Procrustes-aligned PA-MPJPE and
2D PCK of the person's box side. Inputs are metres (3D) or crop coordinates in [-1, 1] (2D);
outputs per sample."""

from __future__ import annotations

import torch

from openhmr.geometry.alignment import procrustes_align


def mid_hip(points: torch.Tensor, hips: tuple[int, int]) -> torch.Tensor:
    """(N, K, 3) -> (N, 1, 3): the pelvis, halfway between the hips."""
    return (points[:, hips[0] : hips[0] + 1] + points[:, hips[1] : hips[1] + 1]) / 2


def pelvis_aligned(points: torch.Tensor, hips: tuple[int, int]) -> torch.Tensor:
    """(N, K, 3) minus their mid-hip point."""
    return points - mid_hip(points, hips)


def joint_errors(pred: torch.Tensor, gt: torch.Tensor, weights: torch.Tensor, hips: tuple[int, int]):
    """pred, gt (N, K, 3); weights (N, K) in {0, 1} (joints to count; samples without both hips
    must have all-zero weights). Returns per-joint pelvis-aligned errors (N, K), MPJPE (M,) and
    PA-MPJPE (M,) over the M samples with any counted joint."""
    errors = (pelvis_aligned(pred, hips) - pelvis_aligned(gt, hips)).norm(dim=-1)
    counted = weights.sum(dim=1) > 0
    w = weights[counted]
    mpjpe = (errors[counted] * w).sum(1) / w.sum(1)
    aligned = procrustes_align(pred[counted], gt[counted], w)
    pa = ((aligned - gt[counted]).norm(dim=-1) * w).sum(1) / w.sum(1)
    return errors, mpjpe, pa


def person_extent(points: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """(N,) the longer side of each person's box, the extent of their visible points
    (N, K, 2); NaN with fewer than two. The unit of PCK everywhere (LSP's own definition)."""
    inf = torch.tensor(float("inf"), dtype=points.dtype)
    lo = torch.where(visible[..., None], points, inf).amin(dim=1)
    hi = torch.where(visible[..., None], points, -inf).amax(dim=1)
    return torch.where(visible.sum(dim=1) >= 2, (hi - lo).amax(dim=1), torch.nan)


def pck(pred: torch.Tensor, gt: torch.Tensor, visible: torch.Tensor, threshold: float) -> float:
    """Share of visible keypoints whose 2D error is under ``threshold`` × the person's box side
    (:func:`person_extent` of the visible labels), as for LSP. pred, gt (N, K, 2) in one unit
    (pixels or crop coordinates), visible (N, K) bool; people with < 2 visible points are left out."""
    size = person_extent(gt, visible)
    counted = visible & torch.isfinite(size)[:, None]
    distance = (pred - gt).norm(dim=-1) / size[:, None]
    return float((distance[counted] < threshold).float().mean())
