"""Cameras: HMR's weak perspective in the crop, and the perspective camera it implies.

Crop coordinates lie in [-1, 1] across the square crop; image coordinates are pixels; 3D
points are metres in the camera frame (x right, y down, z forward). A weak-perspective camera
is ``cam = [s, tx, ty]`` (B, 3); a perspective one is a translation (B, 3) plus intrinsics.
"""

from __future__ import annotations

import torch

# HMR's crop side in pixels: what the network sees, and the unit of crop-pixel errors.
CROP_RES = 224


def weak_perspective_project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """HMR's projection ``x = s (X[:, :2] + [tx, ty])``: points (B, K, 3) -> crop coords (B, K, 2)."""
    return cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])


def intrinsics(focal_length: torch.Tensor, principal_point: torch.Tensor) -> torch.Tensor:
    """K (B, 3, 3) from focal length (B,) in pixels and principal point (B, 2)."""
    K = torch.zeros(*focal_length.shape, 3, 3, dtype=focal_length.dtype, device=focal_length.device)
    K[..., 0, 0] = focal_length
    K[..., 1, 1] = focal_length
    K[..., :2, 2] = principal_point
    K[..., 2, 2] = 1.0
    return K


def perspective_project(points: torch.Tensor, translation: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of ``points + translation``: (B, N, 3), (B, 3), (B, 3, 3) -> pixels (B, N, 2)."""
    camera_points = points + translation[:, None]
    homogeneous = camera_points @ K.transpose(-1, -2)
    return homogeneous[..., :2] / homogeneous[..., 2:]


def crop_to_image(crop_xy: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """Crop coords (B, N, 2) in [-1, 1] -> pixels, for square boxes: centre (B, 2), size (B,)."""
    return box_center[:, None] + crop_xy * box_size[:, None, None] / 2


def image_to_crop(image_xy: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """Pixels (B, N, 2) -> crop coords in [-1, 1]; inverse of :func:`crop_to_image`."""
    return (image_xy - box_center[:, None]) * 2 / box_size[:, None, None]


def weak_to_translation(cam: torch.Tensor, focal_length: torch.Tensor, crop_res: float) -> torch.Tensor:
    """Perspective translation ``[tx, ty, 2 f / (res s)]`` (B, 3) equivalent to ``cam`` in the crop.

    ``focal_length`` (B,) is in crop pixels; the principal point is the crop centre.
    """
    s, tx, ty = cam.unbind(-1)
    return torch.stack([tx, ty, 2 * focal_length / (crop_res * s)], dim=-1)


def crop_cam_to_full(
    cam: torch.Tensor,
    box_center: torch.Tensor,
    box_size: torch.Tensor,
    image_size: torch.Tensor,
    focal_length: torch.Tensor,
) -> torch.Tensor:
    """Weak-perspective crop camera -> translation in the full image's camera (CLIFF-style).

    cam (B, 3); box_center (B, 2) and box_size (B,) in pixels; image_size (B, 2) as (width,
    height); focal_length (B,) pixels, principal point at the image centre. Returns (B, 3):
    the body, projected with :func:`intrinsics` of that camera, lands where the crop camera
    put it (exactly for points at the root's depth).
    """
    s, tx, ty = cam.unbind(-1)
    scaled_box = s * box_size
    offset = 2 * (box_center - image_size / 2) / scaled_box[:, None]
    tz = 2 * focal_length / scaled_box
    return torch.stack([tx + offset[:, 0], ty + offset[:, 1], tz], dim=-1)
