"""Follow one person through a video: the largest person first, then, frame by frame, the
box that overlaps the last one followed most."""

from __future__ import annotations

from openhmr.detect.mediapipe import Detection


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


class Follower:
    """Picks the followed person's box in each frame.

    ``min_iou``: below this overlap with the last box a detection is someone else (or a miss);
    ``patience``: after this many frames without the person, the largest person is taken again.
    """

    def __init__(self, min_iou: float = 0.1, patience: int = 30):
        self.min_iou, self.patience = min_iou, patience
        self.last: Detection | None = None
        self.missed = 0

    def __call__(self, boxes: list[Detection]) -> Detection | None:
        """The followed person's detection in this frame, or None when they are not seen."""
        if self.last is None or self.missed > self.patience:
            pick = max(boxes, key=lambda d: d.bbox[2] * d.bbox[3], default=None)
        else:
            scored = [(box_iou(d.bbox, self.last.bbox), d) for d in boxes]
            best = max(scored, key=lambda s: s[0], default=(0.0, None))
            pick = best[1] if best[0] >= self.min_iou else None
        if pick is None:
            self.missed += 1
        else:
            self.last, self.missed = pick, 0
        return pick
