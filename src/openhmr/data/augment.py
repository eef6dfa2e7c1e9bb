"""Crop and augment one sample: box crop at a fixed resolution, scale/shift jitter, in-plane
rotation, horizontal flip, colour jitter.

Geometry is one homogeneous 3x3 matrix from image pixels to crop pixels, applied to the image
(PIL) and to the 2D keypoints alike, so they cannot drift apart. A rotation of the crop by
r degrees (counter-clockwise on screen) is a camera roll: 3D joints and the global
orientation turn with it. A flip mirrors the image about the crop's vertical axis, swaps
left/right keypoints and mirrors the pose and 3D joints.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from openhmr.geometry.crop import crop_matrix, transform_points
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclasses.dataclass
class Augmentation:
    """One draw of the random augmentation (identity by default)."""

    scale: float = 1.0  # box size multiplier
    shift: tuple[float, float] = (0.0, 0.0)  # box centre offset, in box sizes
    rotation: float = 0.0  # degrees, counter-clockwise on screen
    flip: bool = False
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel gain
    occluder: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in crop fractions

    def crop_matrix(self, center: np.ndarray, box_size: float, res: int) -> np.ndarray:
        """(3, 3) map from image pixels to the pixels of this draw's ``res``² crop of the box."""
        return crop_matrix(center, box_size, res, self.scale, self.shift, self.rotation, self.flip)

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        scale: float = 0.25,
        shift: float = 0.1,
        rotation: float = 30.0,
        rotation_prob: float = 0.6,
        flip_prob: float = 0.5,
        colour: float = 0.4,
        occlusion_prob: float = 0.2,
    ) -> Augmentation:
        """SPIN-like ranges: scale 1 ± 0.25, shift ± 0.1, rotation ± 30° (60% of the time),
        and a synthetic occluding box (20% of the time)."""
        occluder = None
        if rng.random() < occlusion_prob:
            x, y = rng.uniform(0.0, 0.8, 2)
            occluder = (float(x), float(y), float(x + rng.uniform(0.1, 0.35)), float(y + rng.uniform(0.1, 0.35)))
        return cls(
            scale=float(1 + np.clip(rng.normal(0, scale / 2), -scale, scale)),
            shift=tuple(float(v) for v in rng.uniform(-shift, shift, 2)),
            rotation=float(np.clip(rng.normal(0, rotation / 2), -rotation, rotation)) if rng.random() < rotation_prob else 0.0,
            flip=bool(rng.random() < flip_prob),
            colour=tuple(float(v) for v in rng.uniform(1 - colour, 1 + colour, 3)),
            occluder=occluder,
        )


def camera_roll(aug: Augmentation) -> torch.Tensor:
    """(3, 3) the rotation of the camera-frame scene that the crop's rotation shows."""
    return axis_angle_to_matrix(torch.tensor([0.0, 0.0, -math.radians(aug.rotation)]))


def augment_keypoints(keypoints: np.ndarray, matrix: np.ndarray, res: int, flip_perm: list[int] | None) -> np.ndarray:
    """Image keypoints (K, 3) [x, y, visibility] -> crop coordinates in [-1, 1] (K, 3).

    Points that leave the crop stay labelled (the loss still sees them, as in HMR).
    """
    out = keypoints.astype(np.float64).copy()
    out[:, :2] = transform_points(out[:, :2], matrix) / (res / 2) - 1
    if flip_perm is not None:
        out = out[flip_perm]
    return out


def augment_3d(
    joints: torch.Tensor | None,
    global_orient: torch.Tensor | None,
    aug: Augmentation,
    flip_perm: list[int] | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Rotate (and mirror) camera-frame joints (K, 3+) and a global orientation (3,) with the crop.

    The body pose is mirrored separately, by ``BodyModel.mirror_pose``.
    """
    roll = camera_roll(aug)
    mirror = torch.diag(torch.tensor([-1.0 if aug.flip else 1.0, 1.0, 1.0]))
    if joints is not None:
        joints = joints.clone()
        joints[:, :3] = joints[:, :3] @ (mirror @ roll).T
        if aug.flip and flip_perm is not None:
            joints = joints[flip_perm]
    if global_orient is not None:
        rotation = roll @ axis_angle_to_matrix(global_orient)
        if aug.flip:
            rotation = mirror @ rotation @ mirror
        global_orient = matrix_to_axis_angle(rotation)
    return joints, global_orient


def jitter_colour(image: np.ndarray, aug: Augmentation) -> np.ndarray:
    """Per-channel gain, clipped to [0, 255]: (H, W, 3) uint8."""
    return np.clip(image.astype(np.float32) * np.asarray(aug.colour, np.float32), 0, 255).astype(np.uint8)


def occlude(image: np.ndarray, keypoints: np.ndarray, aug: Augmentation) -> tuple[np.ndarray, np.ndarray]:
    """Paint the augmentation's occluding box (mean colour of the crop) on a crop (R, R, 3) and
    make crop keypoints (K, 3) in [-1, 1] under it invisible."""
    if aug.occluder is None:
        return image, keypoints
    res = image.shape[0]
    x0, y0, x1, y1 = (np.array(aug.occluder) * res).astype(int).tolist()
    image = image.copy()
    image[y0:y1, x0:x1] = image.reshape(-1, 3).mean(0).astype(np.uint8)
    px = (keypoints[:, :2] + 1) * res / 2
    under = (px[:, 0] >= x0) & (px[:, 0] < x1) & (px[:, 1] >= y0) & (px[:, 1] < y1)
    keypoints = keypoints.copy()
    keypoints[under, 2] = 0.0
    return image, keypoints
