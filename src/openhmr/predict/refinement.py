"""``predict --refine``: each person's 2D evidence as fitting targets (the landmarks or keypoints
their box came from; else MediaPipe's landmarks found on the crop), in one shared convention."""

from __future__ import annotations

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.fit import Targets
from openhmr.fit.targets import crop_targets
from openhmr.geometry.camera import crop_to_image
from openhmr.predict.crops import Crops


def evidence_targets(crops: Crops, detector) -> Targets:
    """Targets (B, K, 2) crop coordinates for the B people of ``crops``, with MediaPipe's
    person mask of each crop where it judges one (see :mod:`openhmr.detect.masks`);
    ``detector`` a MediaPipeDetector or None (people without evidence then get none:
    confidence 0)."""
    centre_t, size_t = crops.centres_t, crops.sizes_t
    on_crops = None if detector is None else crop_targets(detector, crops.images)
    evidence: list[tuple[np.ndarray, str] | None] = []
    for i, box in enumerate(crops.boxes):
        if box.keypoints is not None:
            evidence.append((box.keypoints, box.keypoint_convention))
        elif on_crops is not None and on_crops.confidence[i].max() > 0:  # crop coordinates -> image pixels
            xy = crop_to_image(on_crops.points[i : i + 1], centre_t[i : i + 1], size_t[i : i + 1])
            evidence.append((np.c_[xy[0].numpy(), on_crops.confidence[i].numpy()], "mediapipe33"))
        else:
            evidence.append(None)
    conventions = sorted({e[1] for e in evidence if e is not None}) or ["mediapipe33"]
    names = tuple(dict.fromkeys(n for c in conventions for n in kp.convention_names(c)))
    points = torch.zeros(len(crops), len(names), 3)
    for i, e in enumerate(evidence):
        if e is not None:
            points[i], _ = kp.convert(torch.as_tensor(e[0], dtype=torch.float32), kp.convention_names(e[1]), names)
    targets = Targets.from_pixels(points, names, centre_t, size_t)
    if on_crops is not None:
        targets.mask, targets.mask_confidence = on_crops.mask, on_crops.mask_confidence
    return targets


def coco17_confidence(targets: Targets) -> torch.Tensor:
    """(B, 17) the evidence's confidence for each COCO-17 keypoint (0 where it has none)."""
    confidence, _ = kp.convert(targets.confidence[..., None], targets.names, "coco17")
    return confidence[..., 0]
