"""People followed through a video as MediaPipe Pose follows them: each person's region in the
next frame is drawn from this frame's auxiliary landmarks (the hips' centre and the body's scale
point, the same rule as the detector's region), and the detector runs only when nobody is
followed or the landmark network says a followed region holds nobody any more (pose score
under 0.5). A person who moves keeps being found between detections, even in frames where the
detector, looking at the whole image, would miss them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from openhmr.detect.people import FoundPerson, PeopleFinder
from openhmr.detect.regions import body_region


@dataclasses.dataclass
class TrackStats:
    """frames: seen so far; detector_runs: frames where the detector had to look; lost_frames:
    frames that ended with nobody."""

    frames: int = 0
    detector_runs: int = 0
    lost_frames: int = 0


class RegionTracker:
    """``tracker(frame)``: the followed people in an RGB uint8 frame (H, W, 3), best first."""

    def __init__(self, finder: PeopleFinder, max_people: int = 1):
        self.finder, self.max_people = finder, max_people
        self.regions = []
        self.stats = TrackStats()

    def __call__(self, frame: np.ndarray) -> list[FoundPerson]:
        self.stats.frames += 1
        people = []
        if self.regions:  # followed, not detected: no detector score
            people = [p for p in self.finder.look([(frame, r) for r in self.regions], [1.0] * len(self.regions)) if p]
        if not people:
            self.stats.detector_runs += 1
            people = self.finder.find([frame])[0][: self.max_people]
        self.stats.lost_frames += not people
        self.regions = [body_region(p.auxiliary[0], p.auxiliary[1]) for p in people]
        return people
