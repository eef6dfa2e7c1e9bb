"""``predict --refine``: each person's 2D evidence as fitting targets (the landmarks or keypoints
their box came from; else MediaPipe's landmarks found on the crop), in one shared convention."""

from __future__ import annotations

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.fit import Targets
from openhmr.geometry.camera import crop_to_image
from openhmr.predict.detect import Detection


def crop_landmarks(detector, crop: torch.Tensor) -> np.ndarray | None:
    """MediaPipe's 33 landmarks on a (3, R, R) crop in [0, 1]: (33, 3) crop coordinates in
    [-1, 1] and visibility, or None when nobody is found."""
    marks = detector.landmarks((crop.permute(1, 2, 0) * 255).round().byte().numpy())
    if marks is None:
        return None
    return np.c_[marks[:, :2] * 2 / crop.shape[-1] - 1, marks[:, 2]]


def evidence_targets(boxes: list[Detection], crops: torch.Tensor, centres: np.ndarray, sizes: np.ndarray, detector) -> Targets:
    """Targets (B, K, 2) crop coordinates for B people. ``crops`` (B, 3, R, R) in [0, 1];
    ``detector`` a MediaPipeDetector or None (people without evidence then get none: confidence 0)."""
    centre_t, size_t = torch.as_tensor(centres).float(), torch.as_tensor(sizes).float()
    evidence: list[tuple[np.ndarray, str] | None] = []
    for i, box in enumerate(boxes):
        if box.keypoints is not None:
            evidence.append((box.keypoints, box.keypoint_convention))
            continue
        marks = None if detector is None else crop_landmarks(detector, crops[i])
        if marks is not None:  # crop coordinates -> image pixels
            xy = crop_to_image(torch.from_numpy(marks[None, :, :2]).float(), centre_t[i : i + 1], size_t[i : i + 1])
            marks = np.c_[xy[0].numpy(), marks[:, 2]]
        evidence.append(None if marks is None else (marks, "mediapipe33"))
    conventions = sorted({e[1] for e in evidence if e is not None}) or ["mediapipe33"]
    names = tuple(dict.fromkeys(n for c in conventions for n in kp.convention_names(c)))
    points = torch.zeros(len(boxes), len(names), 3)
    for i, e in enumerate(evidence):
        if e is not None:
            points[i], _ = kp.convert(torch.as_tensor(e[0], dtype=torch.float32), kp.convention_names(e[1]), names)
    return Targets.from_pixels(points, names, centre_t, size_t)


def coco17_confidence(targets: Targets) -> torch.Tensor:
    """(B, 17) the evidence's confidence for each COCO-17 keypoint (0 where it has none)."""
    confidence, _ = kp.convert(targets.confidence[..., None], targets.names, "coco17")
    return confidence[..., 0]
