"""MediaPipe's landmark step on regions, in PyTorch: the BlazePose landmark network on each
region's 256² crop (all regions in one batch), decoded as MediaPipe Pose decodes it (version
0.10.21, ``pose_landmark_by_roi``):
- x, y are crop pixels; visibility and presence are logits (squashed here);
- each point then moves to the heatmap's mean in a 7 × 7 window around it, when the heatmap's
  peak there is at least 0.5 (MediaPipe reads the window's cells at their corners, not their
  centres, and so do we: the points land where MediaPipe's do);
- crop pixels go back to the image through the region.
The pose score says whether a person is in the crop (MediaPipe keeps the landmarks from 0.5).
With ``segmentation=True`` the network's person mask comes too, squashed and warped back onto
the image as MediaPipe Pose returns it (``enable_segmentation``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from openhmr.detect.regions import Region
from openhmr.nets.blazepose import INPUT_RES, NUM_LANDMARKS, landmark_model_path
from openhmr.nets.tflite import TFLiteGraph, read_tflite

BODY_POINTS = 33  # the rest of the 39 are auxiliary (the next frame's region)
REFINE_WINDOW = 7
REFINE_MIN_PEAK = 0.5
MIN_POSE_SCORE = 0.5


@dataclasses.dataclass
class RegionLandmarks:
    """For N regions: points (N, 33, 4) image pixels x, y, visibility, presence in [0, 1];
    world (N, 33, 3) metres; pose_score (N,); auxiliary (N, 2, 2) image pixels: the hips'
    centre and the body's scale point, from which the next frame's region is drawn."""

    points: np.ndarray
    world: np.ndarray
    pose_score: np.ndarray
    auxiliary: np.ndarray
    masks: list[np.ndarray] | None = None  # (H, W) float32 in [0, 1] per region, with segmentation


class LandmarkNetwork(nn.Module):
    """``net.on_regions([(image, region), ...])``: MediaPipe's landmarks of each region."""

    def __init__(self, graph: TFLiteGraph, segmentation: bool = False):
        super().__init__()
        self.graph, self.segmentation = graph, segmentation

    @classmethod
    def from_file(cls, variant_or_path: str = "full", segmentation: bool = False) -> LandmarkNetwork:
        """BlazePose ``full`` / ``heavy`` (or a ``.tflite`` path), keeping the landmark,
        score, heatmap and world outputs, and the segmentation when asked (it costs its
        decoder)."""
        path = landmark_model_path(variant_or_path) if variant_or_path in ("full", "heavy") else variant_or_path
        graph = read_tflite(path)
        sizes = {tuple(graph.tensors[i].shape[1:]): i for i in graph.outputs}
        outputs = [sizes[(5 * NUM_LANDMARKS,)], sizes[(1,)], sizes[(64, 64, NUM_LANDMARKS)], sizes[(3 * NUM_LANDMARKS,)]]
        if segmentation:
            outputs.append(sizes[(INPUT_RES, INPUT_RES, 1)])
        return cls(TFLiteGraph.from_file(path, outputs).eval(), segmentation)

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """crops (N, 3, 256, 256) RGB in [0, 1] -> points (N, 39, 4) crop pixels x, y,
        visibility, presence (refined on the heatmaps), world (N, 39, 3), pose_score (N,), and
        with segmentation the person's probability (N, 256, 256)."""
        raw, score, heatmaps, world, *mask = self.graph(crops)
        values = raw.reshape(-1, NUM_LANDMARKS, 5)
        xy = refine_on_heatmaps(values[..., :2], heatmaps)
        points = torch.cat([xy, torch.sigmoid(values[..., 3:5])], -1)
        outputs = (points, world.reshape(-1, NUM_LANDMARKS, 3), score.reshape(-1))
        return outputs + (torch.sigmoid(mask[0][:, 0]),) if mask else outputs

    @torch.no_grad()
    def on_regions(self, pairs: list[tuple[np.ndarray, Region]]) -> RegionLandmarks:
        """The landmarks of each (RGB uint8 image (H, W, 3), region) pair, in one batch."""
        if not pairs:
            return RegionLandmarks(np.zeros((0, BODY_POINTS, 4)), np.zeros((0, BODY_POINTS, 3)), np.zeros(0), np.zeros((0, 2, 2)))
        crops = np.stack([region.crop(image, INPUT_RES) for image, region in pairs])
        tensor = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
        points, world, score, *crop_masks = (t.numpy() for t in self(tensor))
        for i, (_, region) in enumerate(pairs):
            points[i, :, :2] = region.to_image(points[i, :, :2], INPUT_RES)
        auxiliary = points[:, BODY_POINTS : BODY_POINTS + 2, :2]
        masks = None
        if crop_masks:  # each region's mask back onto its image (zero outside the region)
            masks = [region.uncrop(mask, image.shape[1], image.shape[0]) for (image, region), mask in zip(pairs, crop_masks[0])]
        return RegionLandmarks(points[:, :BODY_POINTS], world[:, :BODY_POINTS], score, auxiliary, masks)


def refine_on_heatmaps(xy: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """MediaPipe's heatmap refinement. xy (N, P, 2) crop pixels; heatmaps (N, P, H, W) logits
    over the crop. A point inside the map moves to the mean cell index (x, y), weighted by the
    squashed heatmap, of the window around its cell (cut at the map's edges), scaled back to
    crop pixels, when the window's peak reaches 0.5. Returns (N, P, 2)."""
    height, width = heatmaps.shape[-2:]
    scale = INPUT_RES / width
    cell = torch.trunc(xy / scale).long()  # C++'s float-to-int, as MediaPipe converts
    # MediaPipe's bounds check (it compares the column with the height too; the map is square).
    inside = (cell[..., 0] >= 0) & (cell[..., 1] >= 0) & (cell[..., 0] < width) & (cell[..., 0] < height)
    half = REFINE_WINDOW // 2
    offsets = torch.arange(-half, half + 1, device=xy.device)
    cols = cell[..., 0, None] + offsets  # (N, P, k)
    rows = cell[..., 1, None] + offsets
    valid = (rows[..., :, None] >= 0) & (rows[..., :, None] < height) & (cols[..., None, :] >= 0) & (cols[..., None, :] < width)
    flat = (rows.clamp(0, height - 1)[..., :, None] * width + cols.clamp(0, width - 1)[..., None, :]).flatten(2)  # (N, P, k²)
    confidence = torch.sigmoid(heatmaps.flatten(2).gather(2, flat)) * valid.flatten(2)
    total = confidence.sum(2)
    mean_col = (confidence * cols[..., None, :].expand(-1, -1, REFINE_WINDOW, -1).flatten(2)).sum(2) / total.clamp(min=1e-12)
    mean_row = (confidence * rows[..., :, None].expand(-1, -1, -1, REFINE_WINDOW).flatten(2)).sum(2) / total.clamp(min=1e-12)
    refine = inside & (confidence.amax(2) >= REFINE_MIN_PEAK) & (total > 0)
    refined = torch.stack([mean_col, mean_row], -1) * scale
    return torch.where(refine[..., None], refined, xy)

