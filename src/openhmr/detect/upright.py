"""How far to turn each person's crop so they stand upright: MediaPipe's person detector
(:mod:`openhmr.detect.pose_detector`) run on the crop itself, the turn of the region it
builds for the person nearest the crop's centre (MediaPipe aligns its landmark crops so, from
the hips' centre towards the body's scale point).

The BlazePose landmark network is no judge of this: on a person turned 20-90° it reports a
torso within about 10° of upright, while the detector's turn follows the photo's
(measured on the bundled cameraman: README, Predicting, "Upright crops")."""

from __future__ import annotations

import math

import numpy as np

from openhmr.detect.pose_detector import MIN_SCORE, PoseDetector


class UprightTurn:
    """``turn(crops)``: (B,) degrees counter-clockwise on screen that turn each person upright
    in their crops (B, R, R, 3) uint8 (the ``rotation`` of
    :func:`openhmr.geometry.crop.crop_matrix`); 0 where the detector finds nobody."""

    def __init__(self, min_score: float = MIN_SCORE):
        self.detector = PoseDetector.from_file()
        self.min_score = min_score

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0)
        found = self.detector.detect(list(crops), self.min_score)
        centre = crops.shape[2] / 2, crops.shape[1] / 2
        angles = np.zeros(len(crops))
        for i, people in enumerate(found):
            if people:
                nearest = min(people, key=lambda p: math.hypot(p.region.x - centre[0], p.region.y - centre[1]))
                angles[i] = math.degrees(nearest.region.rotation)
        return angles
