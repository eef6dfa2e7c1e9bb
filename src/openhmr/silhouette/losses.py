"""Silhouette losses: the predicted body's soft silhouette against a mask."""

from __future__ import annotations

import torch

from openhmr.geometry.camera import weak_perspective_project
from openhmr.silhouette.soft import SoftSilhouette, crop_to_mask_pixels

MASK_RES = 64  # the losses compare masks at 64² of the crop


def soft_iou_loss(predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 - soft IoU per sample: (B, R, R) each in [0, 1] -> (B,)."""
    inter = (predicted * target).flatten(1).sum(1)
    union = (predicted + target - predicted * target).flatten(1).sum(1)
    return 1.0 - inter / (union + eps)


def hard_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU per sample of boolean masks (B, R, R) -> (B,) (0 where both are empty)."""
    return (a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp(min=1)


def crop_silhouette(renderer: SoftSilhouette, vertices: torch.Tensor, camera: torch.Tensor,
                    softness: float | None = None) -> torch.Tensor:
    """The soft silhouette (B, R, R) of vertices (B, V, 3) seen by HMR's crop camera (B, 3)."""
    return renderer(crop_to_mask_pixels(weak_perspective_project(vertices, camera), renderer.res), softness)


def silhouette_loss(renderer: SoftSilhouette, vertices: torch.Tensor, camera: torch.Tensor, mask: torch.Tensor,
                    weight: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted mean of 1 - soft IoU. mask (B, R, R) uint8 coverage 0-255 or float
    in [0, 1]; weight (B,) the mask's confidence (0: no mask). Zero when no sample has a mask."""
    if not bool((weight > 0).any()):
        return vertices.new_zeros(())
    keep = weight > 0
    target = mask[keep].float()
    target = target / 255.0 if mask.dtype == torch.uint8 else target
    predicted = crop_silhouette(renderer, vertices[keep], camera[keep])
    w = weight[keep].to(predicted.dtype)
    return (w * soft_iou_loss(predicted, target)).sum() / w.sum()
