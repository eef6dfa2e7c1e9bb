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
    """Targets (B, K, 2) crop coordinates for B people, with MediaPipe's person mask of each
    crop where it judges one (see :mod:`openhmr.silhouette.mediapipe_masks`). ``crops``
    (B, 3, R, R) in [0, 1]; ``detector`` a MediaPipeDetector or None (people without evidence
    then get none: confidence 0)."""
    from openhmr.silhouette.masks import MASK_RES
    from openhmr.silhouette.mediapipe_masks import crop_evidence

    centre_t, size_t = torch.as_tensor(centres).float(), torch.as_tensor(sizes).float()
    evidence: list[tuple[np.ndarray, str] | None] = []
    masks, mask_confidence = torch.zeros(len(boxes), MASK_RES, MASK_RES), torch.zeros(len(boxes))
    for i, box in enumerate(boxes):
        marks = None
        if detector is not None:
            marks, mask, confidence = crop_evidence(detector, (crops[i].permute(1, 2, 0) * 255).round().byte().numpy())
            if mask is not None:
                masks[i], mask_confidence[i] = torch.from_numpy(mask), confidence
            if marks is not None:  # crop pixels -> crop coordinates in [-1, 1]
                marks = np.c_[marks[:, :2] * 2 / crops.shape[-1] - 1, marks[:, 2]]
        if box.keypoints is not None:
            evidence.append((box.keypoints, box.keypoint_convention))
            continue
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
    targets = Targets.from_pixels(points, names, centre_t, size_t)
    targets.mask, targets.mask_confidence = masks, mask_confidence
    return targets


def coco17_confidence(targets: Targets) -> torch.Tensor:
    """(B, 17) the evidence's confidence for each COCO-17 keypoint (0 where it has none)."""
    confidence, _ = kp.convert(targets.confidence[..., None], targets.names, "coco17")
    return confidence[..., 0]
