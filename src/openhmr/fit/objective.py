"""The fitting objective, one value per person: robust reprojection to 2D targets plus priors.

Terms (each weight a :class:`FitSettings` field; a zero weight switches a term off):
- reprojection: Geman-McClure ρ(r) = σ² r² / (σ² + r²) of each keypoint's distance r in crop
  pixels, divided by σ² (so each point costs at most 1), confidence-weighted, hips down-weighted
  (every convention puts them somewhere else), averaged over the weights;
- regression: closeness to the network's own estimate (rotation matrices and shape);
- discriminator: HMR's adversary as a realism term, mean over its outputs of (D(θ) - 1)²;
- gmm: the mixture pose prior's negative log-likelihood; bend: knees and elbows bending the
  wrong way; shape: distance of the shape from the body's mean (Anny: in units of its range);
- silhouette: 1 - soft IoU of the body's silhouette with the person's mask (when the targets
  carry one), times the mask's confidence (see :mod:`openhmr.silhouette`).
"""

from __future__ import annotations

import dataclasses

import torch

from openhmr.body.base import BodyModel
from openhmr.fit.pose_prior import PosePrior
from openhmr.fit.targets import FullImageCamera, Targets, project
from openhmr.geometry.camera import CROP_RES
from openhmr.geometry.rotations import matrix_to_axis_angle

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
HIPS = ("left_hip", "right_hip")


@dataclasses.dataclass
class FitSettings:
    optimiser: str = "lbfgs"  # or "adam"
    camera_iterations: int = 10  # stage 1: camera and global orientation on the torso
    iterations: int = 150  # stage 2: everything
    # L-BFGS stops a person early once a step changes their cost (or any of their values) by
    # less than this (1e-9, PyTorch's own default, never stopped a fit here: all 150 ran).
    tolerance: float = 1e-9
    adam_lr: float = 0.02
    sigma_px: float = 20.0  # Geman-McClure scale, crop pixels (224² crop)
    hip_weight: float = 0.3
    min_confidence: float = 0.3  # targets below this confidence are ignored
    regression: float = 0.003
    discriminator: float = 0.3
    gmm: float = 0.002
    bend: float = 1.0
    shape: float = 0.05
    silhouette: float = 0.3
    # "shape": the body is fitted to the keypoints first, then only its shape and the camera
    # move towards the mask (silhouette_iterations); "all": the mask's term joins the whole fit.
    # On 300 LSP test people "shape" at 0.3 raised the mask IoU and kept PCK; "all" at 0.1
    # raised the IoU more but cost 0.013 PCK@0.05 (README, Silhouettes).
    silhouette_stage: str = "shape"
    silhouette_iterations: int = 30
    # Accept a fit only if its reprojection error drops and the discriminator's mean score
    # falls by no more than this (a prior may improve 2D while making 3D worse).
    realism_tolerance: float = 0.0

    def __post_init__(self):
        if self.optimiser not in ("lbfgs", "adam"):
            raise ValueError(f"optimiser must be 'lbfgs' or 'adam', got {self.optimiser!r}.")
        if self.silhouette_stage not in ("all", "shape"):
            raise ValueError(f"silhouette_stage must be 'all' or 'shape', got {self.silhouette_stage!r}.")

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...]) -> FitSettings:
        """Defaults overridden by ``["key=value", ...]`` (e.g. ``"discriminator=0.5"``)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for item in items:
            key, sep, text = item.partition("=")
            if not sep or key not in fields:
                raise ValueError(f"Fit setting {item!r} is not KEY=VALUE with KEY one of {', '.join(fields)}.")
            kind = type(getattr(cls(), key))
            try:
                values[key] = kind(text)
            except ValueError:
                raise ValueError(f"Fit setting {key} expects {kind.__name__}, got {text!r}.") from None
        return cls(**values)


@dataclasses.dataclass
class BodyParams:
    """camera (B, 3) [s > 0, tx, ty]; rotmats (B, J, 3, 3) global orientation first; shape (B, S)."""

    camera: torch.Tensor
    rotmats: torch.Tensor
    shape: torch.Tensor

    def detach(self) -> BodyParams:
        return BodyParams(self.camera.detach(), self.rotmats.detach(), self.shape.detach())

    def where(self, keep: torch.Tensor, other: BodyParams) -> BodyParams:
        """Per person (keep (B,) bool): these values where ``keep``, else ``other``'s."""
        pick = lambda a, b: torch.where(keep.view(-1, *([1] * (a.dim() - 1))), a, b)  # noqa: E731
        return BodyParams(pick(self.camera, other.camera), pick(self.rotmats, other.rotmats), pick(self.shape, other.shape))


class Objective:
    """Per-person cost (B,) of body parameters against ``targets``, around ``start`` (the
    network's estimate)."""

    def __init__(
        self,
        body: BodyModel,
        targets: Targets,
        start: BodyParams,
        settings: FitSettings,
        discriminator: torch.nn.Module | None = None,
        pose_prior: PosePrior | None = None,
        full_image: FullImageCamera | None = None,
    ):
        self.body, self.settings, self.start = body, settings, start.detach()
        self.discriminator, self.pose_prior, self.full_image = discriminator, pose_prior, full_image
        self.index, self.points, confidence = targets.onto(body.keypoint_names)
        self.used = confidence * (confidence >= settings.min_confidence)  # (B, K)
        device = confidence.device
        hips = torch.tensor([n in HIPS for n in targets.names], device=device)
        self.weight = self.used * torch.where(hips, settings.hip_weight, 1.0)
        self.torso = torch.tensor([n in TORSO for n in targets.names], device=device).float()
        self.mask, self.mask_confidence, self.silhouette = targets.mask, targets.mask_confidence, None
        if settings.silhouette and targets.mask is not None:
            from openhmr.silhouette.soft import SoftSilhouette

            self.silhouette = SoftSilhouette(body.faces, targets.mask.shape[-1]).to(device)
        low, high = body.shape_bounds
        self.shape_unit = ((high - low).clamp(min=1e-6) if body.hard_shape_bounds else torch.ones_like(low)).to(device)

    def posed(self, params: BodyParams, vertices: bool = True):
        """The body of ``params``; ``vertices=False``: joints and keypoints only (faster)."""
        return self.body(params.rotmats[:, 0], params.rotmats[:, 1:], params.shape, vertices=vertices)

    def keypoints2d(self, params: BodyParams, out=None) -> torch.Tensor:
        """(B, K, 2) crop coordinates of the body's keypoints matching the targets."""
        out = self.posed(params, vertices=False) if out is None else out
        return project(out.keypoints.index_select(1, self.index), params.camera, self.full_image)

    def distances_px(self, params: BodyParams, out=None) -> torch.Tensor:
        """(B, K) distance of each keypoint to its target, crop pixels."""
        return (self.keypoints2d(params, out) - self.points).norm(dim=-1) * (CROP_RES / 2)

    def body_silhouette(self, params: BodyParams, out=None, softness: float | None = None) -> torch.Tensor:
        """(B, R, R) the body's soft silhouette on the mask's grid of the crop."""
        from openhmr.silhouette.soft import crop_to_mask_pixels

        out = self.posed(params) if out is None else out
        points = project(out.vertices, params.camera, self.full_image)
        return self.silhouette(crop_to_mask_pixels(points, self.silhouette.res), softness)

    def mask_iou(self, params: BodyParams) -> torch.Tensor | None:
        """(B,) IoU of the body's hard silhouette with the mask (> 0.5 each), or None without masks."""
        if self.silhouette is None:
            return None
        from openhmr.silhouette.losses import hard_iou

        with torch.no_grad():
            return hard_iou(self.body_silhouette(params, softness=0.01) > 0.5, self.mask > 0.5)

    def error_px(self, params: BodyParams) -> torch.Tensor:
        """(B,) mean distance over the targets used (confidence-weighted), crop pixels."""
        with torch.no_grad():
            return (self.distances_px(params) * self.used).sum(1) / self.used.sum(1).clamp(min=1e-6)

    def realism(self, params: BodyParams) -> torch.Tensor | None:
        """(B,) the discriminator's mean score (1: looks like mocap), or None without one."""
        if self.discriminator is None:
            return None
        with torch.no_grad():
            return self.discriminator(params.rotmats[:, 1:], params.shape).mean(1)

    def __call__(self, params: BodyParams, torso_only: bool = False, silhouette: bool = True) -> torch.Tensor:
        s = self.settings
        sigma2 = s.sigma_px**2
        with_mask = self.silhouette is not None and silhouette and not torso_only
        out = self.posed(params, vertices=with_mask)
        r2 = self.distances_px(params, out).square()
        weight = self.weight * self.torso if torso_only else self.weight
        reprojection = ((r2 / (sigma2 + r2)) * weight).sum(1) / weight.sum(1).clamp(min=1e-6)
        cost = reprojection
        if s.regression:
            rotation = (params.rotmats - self.start.rotmats).square().flatten(1).sum(1)
            cost = cost + s.regression * (rotation + self.shape_distance(params.shape, self.start.shape))
        if torso_only:
            return cost
        if s.discriminator and self.discriminator is not None:
            cost = cost + s.discriminator * (self.discriminator(params.rotmats[:, 1:], params.shape) - 1).square().mean(1)
        if self.pose_prior is not None and (s.gmm or s.bend):
            body_pose = matrix_to_axis_angle(params.rotmats[:, 1:])
            cost = cost + s.gmm * self.pose_prior.nll(body_pose) + s.bend * self.pose_prior.hyperextension(body_pose)
        if s.shape:
            cost = cost + s.shape * self.shape_distance(params.shape, self.body.mean_shape.to(params.shape))
        if with_mask:
            from openhmr.silhouette.losses import soft_iou_loss

            cost = cost + s.silhouette * self.mask_confidence * soft_iou_loss(self.body_silhouette(params, out), self.mask)
        return cost

    def shape_distance(self, shape: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """(B,) squared distance of shapes (B, S), in units of the body's range where it is bounded."""
        return ((shape - other) / self.shape_unit.to(shape)).square().sum(1)
