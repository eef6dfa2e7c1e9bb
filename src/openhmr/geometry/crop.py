"""Crop geometry shared by inference and training: one homogeneous 3x3 matrix from image
pixels to the pixels of a square crop, applied to the image and to points alike so that they
cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

# The crop's side over the person's tight box that every data source stores its boxes at and
# networks without their own (older weights) are run at: see openhmr.data.framing.
STORED_MARGIN = 1.3


def crop_matrix(
    center: np.ndarray, box_size: float, res: int, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0),
    rotation: float = 0.0, flip: bool = False,
) -> np.ndarray:
    """(3, 3) homogeneous map from image pixels to the pixels of a ``res``² crop of the square
    box of side ``box_size`` centred at ``center`` (2,), scaled by ``scale``, its centre moved
    by ``shift`` box sides, turned ``rotation`` degrees counter-clockwise on screen and mirrored
    about its vertical axis when ``flip``."""
    size = box_size * scale
    cx, cy = np.asarray(center, dtype=np.float64) + np.asarray(shift) * box_size
    to_box = np.array([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]])
    zoom = np.diag([res / size, res / size, 1.0])
    # Image y points down: a counter-clockwise turn on screen is a negative angle in these axes.
    a = -math.radians(rotation)
    turn = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
    mirror = np.diag([-1.0 if flip else 1.0, 1.0, 1.0])
    to_crop = np.array([[1.0, 0, res / 2], [0, 1.0, res / 2], [0, 0, 1.0]])
    return to_crop @ mirror @ turn @ zoom @ to_box


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Pixels (K, 2) through a (3, 3) homogeneous map."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def warp_image(image: np.ndarray, matrix: np.ndarray, res: int) -> np.ndarray:
    """Crop (res, res, C) uint8 of ``image`` (H, W, C) uint8 through ``matrix`` (bilinear)."""
    inverse = np.linalg.inv(matrix)  # PIL asks, for each output pixel, where to read
    out = Image.fromarray(image).transform(
        (res, res), Image.Transform.AFFINE, data=tuple(inverse[:2].ravel()), resample=Image.Resampling.BILINEAR
    )
    return np.asarray(out)
