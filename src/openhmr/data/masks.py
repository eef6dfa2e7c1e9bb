"""Mask files and their crops.

A mask is a one-byte-per-pixel PNG in the image's own pixels: 0 background, above 0 the
person (synthetic sets: 1 + the body part, see :mod:`openhmr.body.parts`; MediaPipe: the person
probability × 255 for real photos, see :mod:`openhmr.detect.masks`). Synthetic masks sit beside
their image (``images/0000001.jpg`` -> ``images/0000001.mask.png``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.silhouette.losses import MASK_RES

_SUPERSAMPLE = 4  # crops are cut at 4 × MASK_RES and box-averaged: coverage, not aliasing


def no_mask() -> dict:
    """The mask fields of a sample that has no mask (its weight 0 switches the loss off)."""
    import torch

    return {"mask": torch.zeros(MASK_RES, MASK_RES, dtype=torch.uint8), "mask_weight": torch.tensor(0.0)}


def mask_path_beside(image_path: str | Path) -> Path:
    image_path = Path(image_path)
    return image_path.with_name(image_path.stem + ".mask.png")


def read_mask(path: str | Path) -> np.ndarray | None:
    """(H, W) uint8, or None when there is no readable mask file."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except (OSError, ValueError):
        return None


def person_coverage(mask: np.ndarray, image_to_crop: np.ndarray, crop_res: int, res: int = MASK_RES, binary: bool = True) -> np.ndarray:
    """The person's coverage of each cell of the crop's ``res``² grid, uint8 0-255.

    ``image_to_crop`` (3, 3) maps image pixels to the crop's ``crop_res`` pixels (the crop's
    own matrix, flips included). ``binary``: any value above 0 is the person (part labels);
    otherwise the values are probabilities × 255 (MediaPipe)."""
    from openhmr.geometry.crop import warp_image

    fine = res * _SUPERSAMPLE
    scale = np.diag([fine / crop_res, fine / crop_res, 1.0])
    person = np.where(mask > 0, 255, 0).astype(np.uint8) if binary else mask
    warped = warp_image(np.repeat(person[..., None], 3, axis=2), scale @ image_to_crop, fine)[..., 0]
    cells = warped.reshape(res, _SUPERSAMPLE, res, _SUPERSAMPLE).astype(np.float32).mean(axis=(1, 3))
    return np.rint(cells).astype(np.uint8)
