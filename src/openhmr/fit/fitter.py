"""Fit bodies to 2D targets, starting from the network's estimate (SMPLify started as SPIN does).

Optimised for a batch of people at once, each on their own: the crop camera (its scale
through log, so it stays positive), global orientation and body pose (axis-angle), shape
(through the body's bounds, as the network outputs it). Stage 1 moves only camera and
orientation, on the torso; stage 2 moves everything; with a mask, stage 3 only shape and camera.
The default optimiser is Levenberg-Marquardt on the objective's residuals
(:mod:`openhmr.fit.levenberg_marquardt`); L-BFGS (:mod:`openhmr.fit.lbfgs`) and Adam are
settings. Every person has their own damping or line search and stopping test, so a
person's fit does not depend on who else is in the batch. A fit is kept only when
it lowers the reprojection error (or, with a mask, raises the mask's IoU at nearly the same
error) without lowering the discriminator's realism score; else the person keeps the
network's estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from openhmr.fit.lbfgs import minimise_each
from openhmr.fit.levenberg_marquardt import minimise_each_lm
from openhmr.fit.objective import BodyParams, Objective
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from openhmr.nets.theta import ThetaLayout


@dataclasses.dataclass
class FitResult:
    """params: the kept values (fit where accepted, else the start); fitted: the fit itself.
    error_before / error_after (B,) crop pixels (after: of the kept values); realism_before /
    realism_after (B,) the discriminator's mean score (None without one); accepted (B,) bool."""

    params: BodyParams
    fitted: BodyParams
    error_before: torch.Tensor
    error_after: torch.Tensor
    realism_before: torch.Tensor | None
    realism_after: torch.Tensor | None
    accepted: torch.Tensor


def minimise(objective: Objective, params: Callable[[torch.Tensor], BodyParams], theta: torch.Tensor, moving: torch.Tensor,
             iterations: int, **terms) -> torch.Tensor:  # fmt: skip
    """Minimise each person's ``objective(params(theta), **terms)`` over the columns ``moving``
    (indices) of theta (B, P) with the settings' optimiser; returns the new theta. People never
    share a step: Levenberg-Marquardt and L-BFGS keep one damping or history and one line
    search per person, and Adam's steps are per value."""
    settings = objective.settings
    if iterations <= 0:
        return theta
    fixed = theta.detach()
    x = fixed[:, moving]
    if settings.optimiser == "lm":
        twins: dict[int, Objective] = {}

        def residuals_many(candidates: torch.Tensor) -> torch.Tensor:  # (B, M, n) -> (B, M, R)
            batch, many, _ = candidates.shape
            twin = twins.setdefault(many, objective.repeated(many))
            rows = fixed.repeat_interleave(many, 0).index_copy(1, moving, candidates.reshape(batch * many, -1))
            return twin.residuals(params(rows), **terms).view(batch, many, -1)

        x = minimise_each_lm(residuals_many, x, iterations, tolerance=settings.tolerance)
        return fixed.index_copy(1, moving, x)

    def cost_of_moving(values: torch.Tensor) -> torch.Tensor:
        return objective(params(fixed.index_copy(1, moving, values)), **terms)

    if settings.optimiser == "lbfgs":
        x = minimise_each(cost_of_moving, x, iterations, tolerance=settings.tolerance)
    else:
        x = x.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=settings.adam_lr)
        with torch.enable_grad():
            for _ in range(iterations):
                opt.zero_grad()
                cost_of_moving(x).sum().backward()
                opt.step()
    return fixed.index_copy(1, moving, x.detach())


# A fit that matches the person's mask better may cost its keypoints this much (crop pixels).
MASK_SLACK_PX = 1.0
# A fit must bring its keypoints closer by at least this (crop pixels): below it the change is
# float rounding (the keypoint shortcut and the mesh agree to about 1e-5 px), not evidence.
MIN_GAIN_PX = 0.01


def accept(objective: Objective, fitted: BodyParams) -> FitResult:
    """Keep each person's fit only where it improves the 2D evidence on the objective's start
    (the keypoints; or, with a mask, the mask's IoU at nearly the same keypoint error) and does
    not look less real."""
    start, settings = objective.start, objective.settings
    error_before, error_fit = objective.error_px(start), objective.error_px(fitted)
    realism_before, realism_fit = objective.realism(start), objective.realism(fitted)
    accepted = error_fit < error_before - MIN_GAIN_PX
    iou_before, iou_fit = objective.mask_iou(start), objective.mask_iou(fitted)
    if iou_before is not None:
        has_mask = objective.mask_confidence > 0
        accepted |= has_mask & (iou_fit > iou_before) & (error_fit <= error_before + MASK_SLACK_PX)
    if realism_before is not None:
        accepted &= realism_fit >= realism_before - settings.realism_tolerance
    params = fitted.where(accepted, start)
    error_after = torch.where(accepted, error_fit, error_before)
    realism_after = None if realism_before is None else torch.where(accepted, realism_fit, realism_before)
    return FitResult(params, fitted, error_before, error_after, realism_before, realism_after, accepted)


def fit(objective: Objective) -> FitResult:
    """Fit every person of ``objective`` (see module docstring) from its start values, with its
    settings."""
    start, settings = objective.start, objective.settings
    layout = ThetaLayout.for_body(objective.body)  # the network's own bounds for the shape
    theta = layout.from_params(start.camera, matrix_to_axis_angle(start.rotmats), start.shape)  # (B, P) raw values
    # Columns of theta: camera 0-2, global orientation 3-5, body pose, then shape.
    columns = torch.arange(theta.shape[1], device=theta.device)
    camera_and_orientation, everything = columns[:6], columns
    camera_and_shape = torch.cat([columns[:3], columns[3 + 3 * layout.num_joints :]])

    def params(values: torch.Tensor) -> BodyParams:
        cam, rots, shp = layout.to_params(values)
        return BodyParams(cam, axis_angle_to_matrix(rots), shp)

    theta = minimise(objective, params, theta, camera_and_orientation, settings.camera_iterations, torso_only=True)
    if objective.silhouette is not None and settings.silhouette_stage == "shape":
        # Pose on the keypoints first; then the mask may only reshape the body (and move the
        # camera), so it cannot pull limbs off their keypoints.
        theta = minimise(objective, params, theta, everything, settings.iterations, silhouette=False)
        theta = minimise(objective, params, theta, camera_and_shape, settings.silhouette_iterations)
    else:
        theta = minimise(objective, params, theta, everything, settings.iterations)
    return accept(objective, params(theta))
