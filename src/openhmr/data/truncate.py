"""Truncated photos from whole-body ones: the frame ends at the knees, hips or chest.

A chest-up photo gives `predict` a box around what is seen, so the network must learn to put
head and shoulders on the person and let the legs run out of the frame. From a labelled
whole-body person we make that view: everything below a cut line is blanked (what lies beyond
a photo's edge looks like in a crop: black), and the box becomes the extent of what is left,
as a detector would draw it. Every label stays (2D points below the cut are still where the
body is), so the losses teach the body to continue past the frame.
"""

from __future__ import annotations

import numpy as np

from openhmr.body import keypoints as kp

CUTS = ("knees", "hips", "chest")
_PAIRS = {"knees": ("left_knee", "right_knee"), "hips": ("left_hip", "right_hip"), "shoulders": ("left_shoulder", "right_shoulder")}


def cut_row(keypoints: np.ndarray, convention: str, cut: str) -> float | None:
    """The image row (pixels) where a photo cut at ``cut`` would end, for an upright person
    (shoulders above hips): knees, hips, or the chest (40 % of the way from shoulders to hips).
    ``keypoints`` (K, 3) image pixels + visibility. None when the labels cannot tell."""
    names = kp.convention_names(convention)

    def level(part: str) -> float | None:
        idx = [names.index(n) for n in _PAIRS[part] if n in names]
        seen = [i for i in idx if keypoints[i, 2] > 0]
        return float(np.mean(keypoints[seen, 1])) if seen else None

    shoulders, hips = level("shoulders"), level("hips")
    if shoulders is None or hips is None or hips <= shoulders:
        return None  # not upright (or unlabelled): no sensible "below"
    return shoulders + 0.4 * (hips - shoulders) if cut == "chest" else level(cut)


def truncated_box(keypoints: np.ndarray, row: float, margin: float) -> tuple[np.ndarray, float] | None:
    """(centre (2,), square size) of the crop a detector's box of the part above ``row`` gives:
    the labelled points above the row, down to the row itself (where the photo ends), grown by
    ``margin``. None when fewer than three points are above the row."""
    above = keypoints[(keypoints[:, 2] > 0) & (keypoints[:, 1] < row), :2]
    if len(above) < 3:
        return None
    lo = above.min(0)
    hi = np.array([above[:, 0].max(), row])
    return (lo + hi) / 2, float((hi - lo).max() * margin)


def blank_below(image: np.ndarray, row: float) -> np.ndarray:
    """(H, W, 3) with every row from ``row`` down set to black, as beyond a photo's edge."""
    out = image.copy()
    out[max(0, int(np.ceil(row))) :] = 0
    return out
