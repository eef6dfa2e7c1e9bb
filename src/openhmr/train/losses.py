"""HMR's losses. Each supervised term averages over the labels that exist, so a sample
without a label contributes exactly zero (and a batch with none gives 0, never NaN).

Batch fields (B samples, K keypoints in the HMR's convention, J joints, S shape values):
  keypoints2d (B, K, 3)   x, y in crop coordinates [-1, 1] and visibility (0 where unlabelled)
  keypoints3d (B, K, 4)   x, y, z metres (camera frame) and confidence (0 where unlabelled)
  rotmats     (B, J, 3, 3) and shape (B, S): parameter labels, with has_params (B,) in {0, 1}
Left/right hips locate the pelvis for 3D alignment.
"""

from __future__ import annotations

import dataclasses

import torch

from openhmr.nets.hmr import HMRPrediction


@dataclasses.dataclass
class LossWeights:
    """HMR's defaults: keypoints 60, 3D (joints and parameters) 60, adversarial 1."""

    keypoints2d: float = 60.0
    keypoints3d: float = 60.0
    params: float = 60.0
    adversarial: float = 1.0


def keypoint_2d_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Visibility-weighted L1: pred (B, K, 2), target (B, K, 3), mask (K,) landmarks the model has."""
    weight = target[..., 2:]
    if mask is not None:
        weight = weight * mask[:, None].to(weight)
    # An unlabelled coordinate may hold NaN, and 0 * NaN is NaN (in the loss and in its
    # gradient): such targets are replaced before any arithmetic touches them.
    gt = torch.where(weight > 0, target[..., :2], torch.zeros_like(pred))
    return ((pred - gt).abs() * weight).sum() / (2 * weight.sum()).clamp(min=1.0)


def pelvis_of(points: torch.Tensor, left_hip: int, right_hip: int) -> torch.Tensor:
    """(B, K, D) -> (B, 1, D): the mid-hip point."""
    return (points[:, left_hip : left_hip + 1] + points[:, right_hip : right_hip + 1]) / 2


def keypoint_3d_loss(
    pred: torch.Tensor, target: torch.Tensor, left_hip: int, right_hip: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Pelvis-aligned squared error: pred (B, K, 3), target (B, K, 4), mask (K,).

    A sample takes part only where both its hips are labelled (else it cannot be aligned).
    """
    conf = target[..., 3:]
    if mask is not None:
        conf = conf * mask[:, None].to(conf)
    aligned = (conf[:, left_hip] > 0) & (conf[:, right_hip] > 0)  # (B, 1)
    conf = conf * aligned[:, None].to(conf)
    gt = torch.where(conf > 0, target[..., :3], torch.zeros_like(pred))  # no NaN past here
    gt = gt - pelvis_of(gt, left_hip, right_hip)
    p = pred - pelvis_of(pred, left_hip, right_hip)
    return ((p - gt).square() * conf).sum() / (3 * conf.sum()).clamp(min=1.0)


def params_loss(
    pred_rotmats: torch.Tensor,
    pred_shape: torch.Tensor,
    target_rotmats: torch.Tensor,
    target_shape: torch.Tensor,
    has_params: torch.Tensor,
) -> torch.Tensor:
    """Squared error of rotation matrices (B, J, 3, 3) and shape (B, S) on labelled samples."""
    has = has_params.to(pred_shape).view(-1, 1)
    # Unlabelled samples' targets may be garbage (NaN): swap them out before subtracting.
    target_rotmats = torch.where(has[..., None, None] > 0, target_rotmats, pred_rotmats.detach())
    target_shape = torch.where(has > 0, target_shape, pred_shape.detach())
    rot = (pred_rotmats - target_rotmats).square().flatten(1).mean(1)
    shp = (pred_shape - target_shape).square().mean(1)
    return ((rot + shp) * has[:, 0]).sum() / has.sum().clamp(min=1.0)


def encoder_adversarial_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Σ over discriminator outputs of the batch-mean (D(θ̂) - 1)²: fake_scores (B, O)."""
    return (fake_scores - 1).square().mean(dim=0).sum()


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Σ batch-mean (D(real) - 1)² + Σ batch-mean D(fake)²: (B, O) each."""
    return (real_scores - 1).square().mean(dim=0).sum() + fake_scores.square().mean(dim=0).sum()


def encoder_losses(
    predictions: list[HMRPrediction],
    batch: dict[str, torch.Tensor],
    keypoint_mask: torch.Tensor,
    hips: tuple[int, int],
    weights: LossWeights,
    discriminator: torch.nn.Module | None = None,
    supervise: str = "final",
) -> dict[str, torch.Tensor]:
    """All encoder terms and their weighted ``total``.

    ``supervise``: which iterations get the keypoint, 3D and parameter losses: ``"final"``
    (HMR's TF code) or ``"all"`` (averaged). The adversarial term covers every iteration.
    Missing batch fields simply switch their term off.
    """
    supervised = predictions if supervise == "all" else predictions[-1:]
    if any(p.keypoints2d is None for p in supervised):
        raise ValueError(f"supervise={supervise!r} needs the body decoded for those iterations: HMR(..., decode='all').")
    zero = predictions[-1].theta.new_zeros(())
    terms = {"keypoints2d": zero, "keypoints3d": zero, "params": zero, "adversarial": zero}
    for p in supervised:
        if "keypoints2d" in batch:
            terms["keypoints2d"] = terms["keypoints2d"] + keypoint_2d_loss(p.keypoints2d, batch["keypoints2d"], keypoint_mask)
        if "keypoints3d" in batch:
            terms["keypoints3d"] = terms["keypoints3d"] + keypoint_3d_loss(
                p.keypoints3d, batch["keypoints3d"], *hips, mask=keypoint_mask
            )
        if "rotmats" in batch:
            terms["params"] = terms["params"] + params_loss(
                p.rotmats, p.shape, batch["rotmats"], batch["shape"], batch["has_params"]
            )
    for key in ("keypoints2d", "keypoints3d", "params"):
        terms[key] = terms[key] / len(supervised)
    if discriminator is not None:
        scores = discriminator(
            torch.cat([p.body_rotmats for p in predictions]), torch.cat([p.shape for p in predictions])
        )
        terms["adversarial"] = encoder_adversarial_loss(scores)
    terms["total"] = sum(getattr(weights, k) * terms[k] for k in ("keypoints2d", "keypoints3d", "params", "adversarial"))
    return terms
