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

import copy
import dataclasses

import torch

from openhmr.body.base import BodyModel
from openhmr.fit.pose_prior import PosePrior
from openhmr.fit.targets import FullImageCamera, Targets, project
from openhmr.geometry.camera import CROP_RES
from openhmr.geometry.rotations import matrix_to_axis_angle

TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
HIPS = ("left_hip", "right_hip")


# Each optimiser's iteration counts and stopping tolerance (FitSettings' None values).
ITERATIONS = {
    "lm": {"camera_iterations": 20, "iterations": 15, "silhouette_iterations": 5, "tolerance": 1e-5},
    "lbfgs": {"camera_iterations": 10, "iterations": 150, "silhouette_iterations": 30, "tolerance": 1e-9},
    "adam": {"camera_iterations": 10, "iterations": 150, "silhouette_iterations": 30, "tolerance": 1e-9},
}


@dataclasses.dataclass
class FitSettings:
    # "lm": Levenberg-Marquardt on the residuals (openhmr.fit.levenberg_marquardt); "lbfgs"
    # and "adam" on their sum. Iteration counts left at None take the optimiser's defaults
    # (ITERATIONS): Jacobians for LM, gradient steps for the others.
    optimiser: str = "lm"
    camera_iterations: int | None = None  # stage 1: camera and global orientation on the torso
    iterations: int | None = None  # stage 2: everything
    # A person's fit stops early once a step changes their cost by less than this: relative
    # for LM; absolute (or any value's change) for L-BFGS, where 1e-9, PyTorch's own default,
    # never stopped a fit (all 150 ran).
    tolerance: float | None = None
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
    silhouette_iterations: int | None = None
    # Accept a fit only if its reprojection error drops and the discriminator's mean score
    # falls by no more than this (a prior may improve 2D while making 3D worse).
    realism_tolerance: float = 0.0

    def __post_init__(self):
        if self.optimiser not in ITERATIONS:
            raise ValueError(f"optimiser must be one of {', '.join(ITERATIONS)}, got {self.optimiser!r}.")
        if self.silhouette_stage not in ("all", "shape"):
            raise ValueError(f"silhouette_stage must be 'all' or 'shape', got {self.silhouette_stage!r}.")
        defaults = ITERATIONS[self.optimiser]
        for name in ("camera_iterations", "iterations", "silhouette_iterations", "tolerance"):
            if getattr(self, name) is None:
                setattr(self, name, defaults[name])

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

    def to(self, device) -> BodyParams:
        return BodyParams(self.camera.to(device), self.rotmats.to(device), self.shape.to(device))

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

    def repeated(self, times: int) -> Objective:
        """The same objective with every person repeated ``times`` times in a row (person b's
        copies at rows b·times … b·times + times - 1): many trial values per person in one call."""
        if times == 1:
            return self
        twin = copy.copy(self)
        each = lambda t: None if t is None else t.repeat_interleave(times, dim=0)
        twin.start = BodyParams(each(self.start.camera), each(self.start.rotmats), each(self.start.shape))
        twin.points, twin.used, twin.weight = each(self.points), each(self.used), each(self.weight)
        twin.mask, twin.mask_confidence = each(self.mask), each(self.mask_confidence)
        if self.full_image is not None:
            twin.full_image = FullImageCamera(*(each(getattr(self.full_image, f.name)) for f in dataclasses.fields(FullImageCamera)))
        return twin

    def posed(self, params: BodyParams, vertices: bool = True):
        """The body of ``params``; ``vertices=False``: joints and keypoints only (faster)."""
        return self.body(params.rotmats[:, 0], params.rotmats[:, 1:], params.shape, vertices=vertices)

    def keypoints2d(self, params: BodyParams, out=None) -> torch.Tensor:
        """(B, K, 2) crop coordinates of the body's keypoints matching the targets."""
        out = self.posed(params, vertices=False) if out is None else out
        return project(out.keypoints.index_select(1, self.index), params.camera, self.full_image)

    def offsets_px(self, params: BodyParams, out=None) -> torch.Tensor:
        """(B, K, 2) each keypoint's offset from its target, crop pixels."""
        return (self.keypoints2d(params, out) - self.points) * (CROP_RES / 2)

    def distances_px(self, params: BodyParams, out=None) -> torch.Tensor:
        """(B, K) distance of each keypoint to its target, crop pixels."""
        return self.offsets_px(params, out).norm(dim=-1)

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
        """(B,) each person's cost: the sum of squares of :meth:`residuals`."""
        return self.residuals(params, torso_only, silhouette).square().sum(1)

    def residuals(self, params: BodyParams, torso_only: bool = False, silhouette: bool = True) -> torch.Tensor:
        """(B, R) the cost as a sum of squares, each term (module docstring) as values whose
        squares add up to it, so that L-BFGS (the sum) and Levenberg-Marquardt (the values)
        minimise the same thing. ``torso_only``: the torso's keypoints and the regression term;
        ``silhouette=False`` leaves the mask out."""
        s = self.settings
        with_mask = self.silhouette is not None and silhouette and not torso_only
        out = self.posed(params, vertices=with_mask)
        # Geman-McClure as a vector: e / √(σ² + r²) has squared length r² / (σ² + r²), ρ(r) / σ².
        offsets = self.offsets_px(params, out)
        weight = self.weight * self.torso if torso_only else self.weight
        share = weight / weight.sum(1, keepdim=True).clamp(min=1e-6)
        robust = torch.rsqrt(s.sigma_px**2 + offsets.square().sum(-1))
        terms = [(offsets * (share.sqrt() * robust)[..., None]).flatten(1)]
        if s.regression:
            rotation = (params.rotmats - self.start.rotmats).flatten(1)
            terms += [s.regression**0.5 * rotation, s.regression**0.5 * self.shape_offset(params.shape, self.start.shape)]
        if not torso_only:
            terms += self._prior_residuals(params)
            if with_mask:
                from openhmr.silhouette.losses import soft_iou_loss

                loss = self.mask_confidence * soft_iou_loss(self.body_silhouette(params, out), self.mask)
                terms.append((s.silhouette * loss).clamp(min=1e-12).sqrt()[:, None])
        return torch.cat(terms, dim=1)

    def _prior_residuals(self, params: BodyParams) -> list[torch.Tensor]:
        s, terms = self.settings, []
        if s.discriminator and self.discriminator is not None:
            scores = self.discriminator(params.rotmats[:, 1:], params.shape)  # (B, D): mean of (D - 1)²
            terms.append((s.discriminator / scores.shape[1]) ** 0.5 * (scores - 1))
        if self.pose_prior is not None and (s.gmm or s.bend):
            body_pose = matrix_to_axis_angle(params.rotmats[:, 1:])
            if s.gmm:
                terms.append(s.gmm**0.5 * self.pose_prior.nll_residuals(body_pose))
            if s.bend:
                terms.append(s.bend**0.5 * self.pose_prior.hyperextension_residuals(body_pose))
        if s.shape:
            terms.append(s.shape**0.5 * self.shape_offset(params.shape, self.body.mean_shape.to(params.shape)))
        return terms

    def shape_offset(self, shape: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """(B, S) difference of shapes, in units of the body's range where it is bounded."""
        return (shape - other) / self.shape_unit.to(shape)
