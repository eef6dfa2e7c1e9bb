"""Regions of interest as MediaPipe Pose draws them: a square turned so that the body stands
upright in it, and the crops cut from it.

MediaPipe's conventions are kept exactly, so that the landmark network sees what it saw in
training and gives what MediaPipe gives (``tests/test_pose_detector.py``):
- a region is its centre and side in image pixels and a rotation (radians, clockwise on screen,
  which turns the region's "up" onto the body's hips-to-head direction);
- a crop maps the region's corners onto the crop's corners, pixel (0, 0) to the region's
  top-left corner (OpenCV's ``warpPerspective``, bilinear), so crop pixel u lies at
  ``corner + u · side / res`` along the region's axes;
- outside the image the crop repeats the border (the landmark network) or is black (the
  detector's letterbox).
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Region:
    """centre (x, y) and side in image pixels; rotation in radians (0: upright)."""

    x: float
    y: float
    size: float
    rotation: float = 0.0

    def matrix(self, res: int) -> np.ndarray:
        """(3, 3) map from image pixels to the pixels of a ``res``² crop of this region."""
        corners = cv2.boxPoints(((self.x, self.y), (self.size, self.size), math.degrees(self.rotation)))
        # OpenCV lists a box's corners bottom-left, top-left, top-right, bottom-right.
        target = np.array([[0, res], [0, 0], [res, 0], [res, res]], dtype=np.float32)
        return cv2.getPerspectiveTransform(corners.astype(np.float32), target)

    def crop(self, image: np.ndarray, res: int, repeat_border: bool = True) -> np.ndarray:
        """(res, res, C) uint8 crop of ``image`` (H, W, C) uint8."""
        border = cv2.BORDER_REPLICATE if repeat_border else cv2.BORDER_CONSTANT
        return cv2.warpPerspective(image, self.matrix(res), (res, res), flags=cv2.INTER_LINEAR, borderMode=border)

    def uncrop(self, values: np.ndarray, width: int, height: int) -> np.ndarray:
        """A (res, res) float map over this region's crop -> (height, width) over the image
        (bilinear; 0 outside the region)."""
        inverse = np.linalg.inv(self.matrix(values.shape[0]))
        return cv2.warpPerspective(values.astype(np.float32), inverse, (width, height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT)  # fmt: skip

    def to_image(self, points: np.ndarray, res: int) -> np.ndarray:
        """Crop pixels (..., 2) of a ``res``² crop -> image pixels (..., 2)."""
        u = points / res - 0.5
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        x = (cos * u[..., 0] - sin * u[..., 1]) * self.size + self.x
        y = (sin * u[..., 0] + cos * u[..., 1]) * self.size + self.y
        return np.stack([x, y], axis=-1)


# MediaPipe's margin around the circle its detector draws about the body (pose_detection_to_roi).
BODY_REGION_SCALE = 1.25


def body_region(hips: np.ndarray, scale_point: np.ndarray, scale: float = BODY_REGION_SCALE) -> Region:
    """The region MediaPipe builds from a detection's alignment points (image pixels, (2,)
    each): centred on the hips' midpoint, side twice their distance to the scale point times
    ``scale``, turned so that hips-to-scale-point points up."""
    dx, dy = float(scale_point[0] - hips[0]), float(scale_point[1] - hips[1])
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))  # into [-π, π)
    return Region(float(hips[0]), float(hips[1]), 2 * math.hypot(dx, dy) * scale, rotation)


def letterbox(width: int, height: int) -> Region:
    """The square region around a whole image (its longer side; the rest black when cropped)."""
    return Region(width / 2, height / 2, float(max(width, height)))
