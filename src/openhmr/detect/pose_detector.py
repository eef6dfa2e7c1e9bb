"""MediaPipe's person detector (``pose_detection.tflite``, in the mediapipe wheel, Apache-2.0)
in PyTorch: every person of a batch of images in one pass.

The network reads the whole image letterboxed to 224² in [-1, 1] and scores 2,254 SSD anchors
(strides 8, 16 and 32; one anchor centre per cell, unit size). Each anchor regresses a box
(the face, in MediaPipe's training) and four alignment points: the hips' centre, a point on the
circle around the whole body, the shoulders' centre and a point on the circle around the upper
body. Decoding follows MediaPipe's pose detection graph (version 0.10.21): scores clipped to
±100 and squashed, kept from 0.5, merged by weighted non-maximum suppression (IoU > 0.3: the
overlapping detections' boxes and points averaged by score, the best one's score kept).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openhmr.detect.regions import Region, body_region, letterbox
from openhmr.nets.blazepose import landmark_model_path
from openhmr.nets.tflite import TFLiteGraph

DETECTOR_RES = 224
MIN_SCORE = 0.5
NMS_IOU = 0.3
SCORE_CLIP = 100.0
# (stride, SSD layers sharing it): each layer adds two anchors per cell.
ANCHOR_LAYERS = ((8, 1), (16, 1), (32, 3))


@dataclasses.dataclass
class PersonDetection:
    """One person: score in [0, 1]; box (4,) x0, y0, x1, y1 and alignment (4, 2) in image
    pixels (hips' centre, full-body scale point, shoulders' centre, upper-body scale point)."""

    score: float
    box: np.ndarray
    alignment: np.ndarray

    @property
    def region(self) -> Region:
        """Where the whole body would be (legs out of the frame included), upright."""
        return body_region(self.alignment[0], self.alignment[1])


def detector_model_path() -> Path:
    """``pose_detection.tflite`` beside the landmark models of the mediapipe wheel."""
    return landmark_model_path("full").parents[1] / "pose_detection" / "pose_detection.tflite"


def ssd_anchors() -> torch.Tensor:
    """(2254, 2) anchor centres in [0, 1] of the 224² input, in the network's output order."""
    centres = []
    for stride, layers in ANCHOR_LAYERS:
        cells = math.ceil(DETECTOR_RES / stride)
        y, x = torch.meshgrid(torch.arange(cells), torch.arange(cells), indexing="ij")
        grid = (torch.stack([x, y], -1).reshape(-1, 1, 2) + 0.5) / cells
        centres.append(grid.expand(-1, 2 * layers, -1).reshape(-1, 2))
    return torch.cat(centres)


class PoseDetector(nn.Module):
    """``detector.detect(images)``: the people of each RGB uint8 image (H, W, 3)."""

    def __init__(self, graph: TFLiteGraph):
        super().__init__()
        self.graph = graph
        self.register_buffer("anchors", ssd_anchors(), persistent=False)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> PoseDetector:
        return cls(TFLiteGraph.from_file(path or detector_model_path()).eval())

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 3, 224, 224) in [-1, 1] -> boxes (B, A, 4) x0, y0, x1, y1 and alignment
        points (B, A, 4, 2), both in [0, 1] of the input, and scores (B, A)."""
        outputs = self.graph(images)
        raw = next(o for o in outputs if o.shape[-1] == 12)  # (B, A, 12): x, y, w, h, then 4 points
        logits = next(o for o in outputs if o.shape[-1] == 1)[..., 0]
        values = raw / DETECTOR_RES
        centre = values[..., :2] + self.anchors
        half = values[..., 2:4] / 2
        boxes = torch.cat([centre - half, centre + half], -1)
        points = values[..., 4:].unflatten(-1, (4, 2)) + self.anchors[:, None]
        return boxes, points, torch.sigmoid(logits.clamp(-SCORE_CLIP, SCORE_CLIP))

    @torch.no_grad()
    def detect(self, images: list[np.ndarray], min_score: float = MIN_SCORE, tiles: int = 1) -> list[list[PersonDetection]]:
        """Every person found in each image, best first, in one batched pass of the network.
        ``tiles`` > 1 also looks at a tiles × tiles grid of overlapping squares of each image,
        for people too small for the whole image's 224² (all views' detections then merged)."""
        if not images:
            return []
        views = [[letterbox(image.shape[1], image.shape[0]), *tile_grid(image.shape[1], image.shape[0], tiles)] for image in images]
        batch = np.stack([view.crop(image, DETECTOR_RES, repeat_border=False) for image, own in zip(images, views) for view in own])
        tensor = torch.from_numpy(batch).to(self.anchors.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        boxes, points, scores = (t.cpu().numpy() for t in self(tensor))
        people, at = [], 0
        for own in views:
            found = {"score": [], "box": [], "points": []}
            for view, b, p, s in zip(own, boxes[at:], points[at:], scores[at:]):
                keep = s >= min_score
                # From the view's square back to the image's pixels.
                origin = np.array([view.x - view.size / 2, view.y - view.size / 2])
                found["score"].append(s[keep])
                found["box"].append((b[keep].reshape(-1, 2, 2) * view.size + origin).reshape(-1, 4))
                found["points"].append(p[keep] * view.size + origin)
            at += len(own)
            merged = weighted_nms(*(np.concatenate(found[k]) for k in ("score", "box", "points")))
            people.append([PersonDetection(score, box, pts) for score, box, pts in merged])
        return people


def tile_grid(width: int, height: int, tiles: int, overlap: float = 1.25) -> list[Region]:
    """A tiles × tiles grid of squares over the image's longer-side square, each ``overlap``
    times its share, so that a person on a seam is whole in some tile (none for tiles <= 1)."""
    if tiles <= 1:
        return []
    side = max(width, height)
    size = side / tiles * overlap
    centres = [(i + 0.5) * side / tiles - (side - dim) / 2 for dim in (width, height) for i in range(tiles)]
    xs, ys = centres[:tiles], centres[tiles:]
    return [Region(x, y, size) for y in ys for x in xs]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of boxes (N, 4), all x0, y0, x1, y1."""
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(high - low, 0, None).prod(1)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, points: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted non-maximum suppression: the best remaining detection absorbs every
    one overlapping it by IoU > 0.3 (itself included); the merged box and points are their
    score-weighted means, its score the best one's. scores (N,), boxes (N, 4), points (N, P, 2)."""
    order = np.argsort(-scores, kind="stable")
    scores, boxes, points = scores[order], boxes[order], points[order]
    merged = []
    remaining = np.arange(len(scores))
    while len(remaining):
        top = remaining[0]
        overlapping = box_iou(boxes[top], boxes[remaining]) > NMS_IOU
        overlapping[0] = True  # a degenerate box still absorbs itself
        group = remaining[overlapping]
        weights = scores[group] / scores[group].sum()
        merged.append((float(scores[top]), weights @ boxes[group], np.einsum("n,npd->pd", weights, points[group])))
        remaining = remaining[~overlapping]
    return merged
