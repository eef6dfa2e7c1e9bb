"""Fit bodies to 2D targets, starting from the network's estimate (SMPLify started as SPIN does).

Optimised, batched over people: the crop camera (its scale through log, so it stays positive),
global orientation and body pose (axis-angle), shape (through the body's bounds, as the network
outputs it). Stage 1 moves only camera and orientation, on the torso; stage 2 moves everything.
The people's costs are independent, so their sum is minimised jointly. A fit is kept only when
it lowers the reprojection error (or, with a mask, raises the mask's IoU at nearly the same
error) without lowering the discriminator's realism score; else the person keeps the
network's estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from openhmr.fit.objective import BodyParams, FitSettings, Objective
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


def minimise(cost: Callable[[], torch.Tensor], variables: list[torch.Tensor], settings: FitSettings, iterations: int) -> None:
    """Minimise ``cost()`` (a scalar) over ``variables`` in place with the settings' optimiser."""
    if iterations <= 0:
        return
    if settings.optimiser == "lbfgs":
        opt = torch.optim.LBFGS(variables, lr=1.0, max_iter=iterations, history_size=10, line_search_fn="strong_wolfe",
                                tolerance_change=settings.tolerance)  # fmt: skip

        def closure():
            opt.zero_grad()
            loss = cost()
            loss.backward()
            return loss

        opt.step(closure)
        return
    opt = torch.optim.Adam(variables, lr=settings.adam_lr)
    for _ in range(iterations):
        opt.zero_grad()
        cost().backward()
        opt.step()


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
    rotvecs = matrix_to_axis_angle(start.rotmats)
    raw_camera, _, raw_shape = layout.split(layout.from_params(start.camera, rotvecs, start.shape))
    camera = raw_camera.clone().requires_grad_(True)
    orient = rotvecs[:, :1].clone().requires_grad_(True)
    pose = rotvecs[:, 1:].clone().requires_grad_(True)
    shape = raw_shape.clone().requires_grad_(True)

    def params() -> BodyParams:
        rots = torch.cat([orient, pose], 1)
        cam, _, shp = layout.to_params(layout.join(camera, rots, shape))
        return BodyParams(cam, axis_angle_to_matrix(rots), shp)

    with torch.enable_grad():
        minimise(lambda: objective(params(), torso_only=True).sum(), [camera, orient], settings, settings.camera_iterations)
        if objective.silhouette is not None and settings.silhouette_stage == "shape":
            # Pose on the keypoints first; then the mask may only reshape the body (and move
            # the camera), so it cannot pull limbs off their keypoints.
            minimise(lambda: objective(params(), silhouette=False).sum(), [camera, orient, pose, shape], settings, settings.iterations)
            minimise(lambda: objective(params()).sum(), [camera, shape], settings, settings.silhouette_iterations)
        else:
            minimise(lambda: objective(params()).sum(), [camera, orient, pose, shape], settings, settings.iterations)
    return accept(objective, params().detach())
