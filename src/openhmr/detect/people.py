"""Every person of an image at once, in PyTorch: MediaPipe's person detector on the whole image
(:mod:`openhmr.detect.pose_detector`), then the BlazePose landmark network on each person's
region (:mod:`openhmr.detect.pose_landmarks`), all regions of all images in one batch.

For one person this is what MediaPipe Pose computes (its landmarks within 0.2 px, median over
LSP photos; ``tests/test_pose_detector.py``); unlike MediaPipe Pose it keeps every person the
detector finds instead of the best one, and needs no painting-out and second pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from openhmr.detect.mediapipe import Detection, box_from_points
from openhmr.detect.pose_detector import MIN_SCORE, PoseDetector
from openhmr.detect.pose_landmarks import MIN_POSE_SCORE, LandmarkNetwork
from openhmr.detect.regions import Region


@dataclasses.dataclass
class FoundPerson:
    """score: the detector's; region: where the whole body would be (image pixels, upright);
    landmarks (33, 4): image pixels x, y, visibility, presence (MediaPipe's 33, ``mediapipe33``);
    world (33, 3) metres; pose_score: the landmark network's belief that a person is there;
    auxiliary (2, 2): image pixels of the hips' centre and the body's scale point (the next
    video frame's region, :mod:`openhmr.detect.tracking`)."""

    score: float
    region: Region
    landmarks: np.ndarray
    world: np.ndarray
    pose_score: float
    auxiliary: np.ndarray
    mask: np.ndarray | None = None  # (H, W) float32 in [0, 1]: the person's probability, when asked for

    def detection(self, width: int, height: int, min_visibility: float = 0.5) -> Detection | None:
        """As ``predict`` takes people: the tight box of the landmarks seen (clipped to the
        image), with the landmarks as 2D evidence (``mediapipe33``: pixels + visibility)."""
        seen = self.landmarks[self.landmarks[:, 2] >= min_visibility]
        box = box_from_points(seen[:, :2], width, height)
        if box is None:
            return None
        return Detection(box, float(seen[:, 2].mean()), self.landmarks[:, :3].copy(), "mediapipe33")


class PeopleFinder:
    """``finder.find(images)``: the people of each RGB uint8 image (H, W, 3), best first."""

    def __init__(self, variant: str = "full", min_score: float = MIN_SCORE, min_pose_score: float = MIN_POSE_SCORE,
                 max_people: int | None = None, tiles: int = 1, masks: bool = False):  # fmt: skip
        """``masks``: also each person's mask (the landmark network's segmentation, as
        MediaPipe Pose's ``enable_segmentation`` gives it)."""
        self.detector = PoseDetector.from_file()
        self.network = LandmarkNetwork.from_file(variant, segmentation=masks)
        self.min_score, self.min_pose_score, self.max_people, self.tiles = min_score, min_pose_score, max_people, tiles

    @torch.no_grad()
    def find(self, images: list[np.ndarray]) -> list[list[FoundPerson]]:
        detections = self.detector.detect(images, self.min_score, self.tiles)
        if self.max_people is not None:
            detections = [found[: self.max_people] for found in detections]
        looked = iter(self.look([(image, d.region) for image, found in zip(images, detections) for d in found],
                                [d.score for found in detections for d in found]))  # fmt: skip
        return [[p for p in (next(looked) for _ in found) if p is not None] for found in detections]

    @torch.no_grad()
    def look(self, pairs: list[tuple[np.ndarray, Region]], scores: list[float]) -> list[FoundPerson | None]:
        """The person in each (image, region) pair, with its detector ``score``; None where the
        landmark network says nobody is there."""
        marks = self.network.on_regions(pairs)
        return [
            FoundPerson(score, region, marks.points[i], marks.world[i], float(marks.pose_score[i]), marks.auxiliary[i],
                        None if marks.masks is None else marks.masks[i])
            if marks.pose_score[i] >= self.min_pose_score else None
            for i, ((_, region), score) in enumerate(zip(pairs, scores))
        ]  # fmt: skip


class BlazePoseDetector:
    """:class:`openhmr.detect.mediapipe.MediaPipeDetector`'s interface on the PyTorch rebuild:
    ``detector(image)`` -> a :class:`Detection` per person (the tight box of the landmarks
    seen, the landmarks as evidence), every person in one pass; ``landmarks`` and
    ``landmarks_and_mask`` of the most prominent person, as MediaPipe Pose gives them."""

    def __init__(self, max_people: int = 4, min_visibility: float = 0.5):
        self.finder = PeopleFinder(max_people=max_people)
        self._with_masks = None  # a second finder with the segmentation decoder, made on first use
        self.min_visibility = min_visibility

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = (p.detection(width, height, self.min_visibility) for p in self.finder.find([image])[0])
        return [d for d in found if d is not None]

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(33, 3) pixels + visibility of the best person, or None."""
        people = self.finder.find([image])[0]
        return people[0].landmarks[:, :3].copy() if people else None

    def landmarks_and_mask(self, image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The best person's landmarks (as :meth:`landmarks`) and mask (H, W) in [0, 1]."""
        if self._with_masks is None:
            self._with_masks = PeopleFinder(max_people=1, masks=True)
        people = self._with_masks.find([image])[0]
        if not people:
            return None, None
        return people[0].landmarks[:, :3].copy(), people[0].mask

    def close(self) -> None:
        pass
