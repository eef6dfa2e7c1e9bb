"""What a fit aims at: 2D keypoints with confidences, in any named convention, in crop
coordinates [-1, 1] of each person's square crop; and how the body is projected there."""

from __future__ import annotations

import dataclasses

import torch

from openhmr.body import keypoints as kp
from openhmr.detect.masks import crop_evidence
from openhmr.geometry.camera import (
    crop_cam_to_full,
    image_to_crop,
    intrinsics,
    perspective_project,
    weak_perspective_project,
)
from openhmr.silhouette.losses import MASK_RES


@dataclasses.dataclass
class Targets:
    """points (B, K, 2) crop coordinates, confidence (B, K) in [0, 1], names: the K landmarks;
    optionally the person's mask (B, R, R) in [0, 1] over the crop and its confidence (B,)
    (0: no mask for that person)."""

    points: torch.Tensor
    confidence: torch.Tensor
    names: tuple[str, ...]
    mask: torch.Tensor | None = None
    mask_confidence: torch.Tensor | None = None

    @classmethod
    def from_pixels(cls, points: torch.Tensor, convention: str | tuple[str, ...], centres: torch.Tensor, sizes: torch.Tensor) -> Targets:
        """points (B, K, 3) image pixels + confidence; crops centred at ``centres`` (B, 2) with
        sides ``sizes`` (B,) pixels."""
        names = kp.convention_names(convention) if isinstance(convention, str) else tuple(convention)
        points = points.float()
        confidence = torch.nan_to_num(points[..., 2]).clamp(0, 1)
        xy = torch.nan_to_num(image_to_crop(points[..., :2], centres.float(), sizes.float()))
        return cls(xy, torch.where(torch.isfinite(points[..., :2]).all(-1), confidence, 0.0), names)

    def to(self, device) -> Targets:
        masks = (None, None) if self.mask is None else (self.mask.to(device), self.mask_confidence.to(device))
        return Targets(self.points.to(device), self.confidence.to(device), self.names, *masks)

    def onto(self, body_names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The targets the body can match: ``index (K,)`` into the body's keypoints, and the
        points (B, K, 2) and confidence (B, K) with landmarks the body lacks at confidence 0."""
        index, mask = kp.mapping(body_names, self.names)
        return index, self.points, self.confidence * mask.to(self.confidence)


@dataclasses.dataclass
class FullImageCamera:
    """The perspective camera of the whole image (CLIFF-style, as ``predict`` reports it):
    crop centres (B, 2) and sizes (B,) pixels, image_size (B, 2) (width, height), focal (B,)."""

    centres: torch.Tensor
    sizes: torch.Tensor
    image_size: torch.Tensor
    focal: torch.Tensor

    def to(self, device) -> FullImageCamera:
        return FullImageCamera(*(t.to(device) for t in (self.centres, self.sizes, self.image_size, self.focal)))

    def project(self, points: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """Root-relative points (B, K, 3) and crop camera [s, tx, ty] (B, 3) -> crop coords (B, K, 2)."""
        translation = crop_cam_to_full(camera, self.centres, self.sizes, self.image_size, self.focal)
        K = intrinsics(self.focal, self.image_size / 2)
        return image_to_crop(perspective_project(points, translation, K), self.centres, self.sizes)


def project(points: torch.Tensor, camera: torch.Tensor, full_image: FullImageCamera | None) -> torch.Tensor:
    """Crop coordinates (B, K, 2) of root-relative points (B, K, 3) under crop camera (B, 3):
    weak perspective (HMR's) or, given ``full_image``, that perspective camera."""
    return weak_perspective_project(points, camera) if full_image is None else full_image.project(points, camera)


def crop_targets(detector, crops):
    """MediaPipe's evidence on crops (B, 3, R, R) in [0, 1] as :class:`Targets`:
    the 33 landmarks in crop coordinates (confidence 0 where nobody was found) and the judged
    person masks (B, MASK_RES, MASK_RES) with their confidences."""
    points = torch.zeros(len(crops), 33, 3)
    masks, confidence = torch.zeros(len(crops), MASK_RES, MASK_RES), torch.zeros(len(crops))
    for i, crop in enumerate(crops):
        marks, mask, judged = crop_evidence(detector, crop)
        if marks is not None:
            points[i] = torch.from_numpy(marks).float()
        if mask is not None:
            masks[i], confidence[i] = torch.from_numpy(mask), judged
    return Targets(points[..., :2], points[..., 2], kp.convention_names("mediapipe33"), masks, confidence)
