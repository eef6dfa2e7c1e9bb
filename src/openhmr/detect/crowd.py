"""More people per photo than MoveNet finds alone: MoveNet MultiPose on the whole image, plus
each CenterNet proposal (:mod:`openhmr.detect.centernet`) that MoveNet confirms on a closer
look, a view cut around the proposal, where a small person fills more of MoveNet's 256 pixels.

A proposal is confirmed when MoveNet finds someone (at its own score threshold) in such a view
whose box overlaps the proposal's by IoU >= ``CONFIRM_IOU``; the person keeps CenterNet's box
and score and MoveNet's keypoints. Proposals on a person already found (IoU > 0.5) are skipped
without a look. Each look is one more MoveNet pass, so crowded photos cost the most (373 ms per
coco-mini photo against MoveNet's 37, one thread). Two detectors must agree, so most of CenterNet's false people stay out (on coco-mini,
``bench/detect.py``: precision 0.609 for its proposals alone, 0.923 for the people kept, recall
0.744 against MoveNet's 0.558). The settings below were chosen on coco-mini itself (60
photos), so its figures for them flatter a little.
"""

from __future__ import annotations

import numpy as np

from openhmr.detect.centernet import CenterNet
from openhmr.detect.movenet import NMS_IOU, MoveNetDetector, MoveNetPerson, suppress
from openhmr.detect.pose_detector import box_iou

PROPOSAL_SCORE = 0.2  # CenterNet's threshold for a proposal worth a look
CONFIRM_IOU = 0.3
# The views around a proposal, squares of these times its longer side, tried in turn until one
# confirms it: first with context (a person 50 pixels tall alone in a 62-pixel view, blown up
# to 256, was mostly not found), then closer. coco-mini (bench/detect.py's matching, proposals >= 0.2, IoU
# 0.3): one look at 1.25 recall / precision 0.643 / 0.943, 1.5 0.674 / 0.946, 2 0.698 / 0.918,
# 3 0.713 / 0.920, 4 0.682 / 0.917; 3 then 1.5 0.744 / 0.923 (about 100 ms more per photo).
LOOK_MARGINS = (3.0, 1.5)


def look_around(box: np.ndarray, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """The view (x0, y0, x1, y1, whole pixels, inside the image) centred on box (4,) x0, y0, x1,
    y1: a square of margin times its longer side."""
    centre = (box[:2] + box[2:]) / 2
    half = margin * max(box[2] - box[0], box[3] - box[1], 8.0) / 2
    x0, y0 = (max(0, int(centre[i] - half)) for i in (0, 1))
    return x0, y0, min(width, int(centre[0] + half)), min(height, int(centre[1] + half))


class CrowdDetector(MoveNetDetector):
    """``predict --detector crowd``: ``detector(image)`` -> a :class:`Detection` per person."""

    def __init__(self, proposal_score: float = PROPOSAL_SCORE):
        super().__init__()
        self.centernet = CenterNet.from_file(min_score=proposal_score)

    def people(self, image: np.ndarray) -> list[MoveNetPerson]:
        height, width = image.shape[:2]
        found = self.movenet.find(image)
        for score, box in self.centernet.find(image):
            if found and (box_iou(box, np.stack([p.box for p in found])) > NMS_IOU).any():
                continue
            looks = (self.confirm(image, box, *look_around(box, width, height, margin)) for margin in LOOK_MARGINS)
            confirmed = next((person for person in looks if person is not None), None)
            if confirmed is not None:
                found.append(MoveNetPerson(score, box, confirmed.keypoints))
        return suppress(found)

    def confirm(self, image: np.ndarray, box: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> MoveNetPerson | None:
        """MoveNet's best person in the view image[y0:y1, x0:x1] (image pixels) that overlaps box."""
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        offset = np.array([x0, y0, x0, y0], float)
        for person in self.movenet.find(np.ascontiguousarray(image[y0:y1, x0:x1])):  # best first
            if box_iou(box, (person.box + offset)[None])[0] >= CONFIRM_IOU:
                keypoints = person.keypoints.copy()
                keypoints[:, :2] += offset[:2]
                return MoveNetPerson(person.score, person.box + offset, keypoints)
        return None
