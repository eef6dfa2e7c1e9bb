"""MediaPipe person masks of a labelled set, computed once per person by ``openhmr masks`` and
read by training's silhouette loss (see :mod:`openhmr.detect.masks` for how a mask is judged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from openhmr.data.dataset import CropDataset
from openhmr.data.masks import no_mask, person_coverage, read_mask
from openhmr.data.sources import cache_key, read_annotations, source_slug
from openhmr.detect.masks import judge_mask
from openhmr.detect.mediapipe import MediaPipeDetector, crop_rgb
from openhmr.geometry.camera import CROP_RES
from openhmr.geometry.crop import crop_matrix
from openhmr.io import atomic_path
from openhmr.silhouette.losses import MASK_RES


class MaskCache:
    """MediaPipe masks of a real set's people, written by ``openhmr masks`` into
    ``WORK_DIR/masks/<set>-<key>/``: each kept mask as ``<index>.png`` over the person's plain
    224² crop (probability × 255), and ``index.npz`` with every person's confidence (0: none).
    The key follows the set's label file, so an edited set gets new masks."""

    def __init__(self, folder: Path, confidence: np.ndarray):
        self.folder, self.confidence = Path(folder), confidence

    @staticmethod
    def folder_for(work_dir: str | Path, name: str) -> Path:
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
        """Sample ``i``'s mask cut by the crop ``matrix`` (image -> crop pixels at ``res``);
        ``ann``: the set's annotations with their boxes as stored (the masks lie over those crops)."""
        mask = read_mask(self.folder / f"{i:07d}.png") if self.confidence[i] > 0 else None
        if mask is None:
            return no_mask()
        plain = crop_matrix(ann.center[i], float(ann.box_size[i]), CROP_RES)
        coverage = person_coverage(mask, matrix @ np.linalg.inv(plain), res, MASK_RES, binary=False)
        return {"mask": torch.from_numpy(coverage), "mask_weight": torch.tensor(float(self.confidence[i]))}


def build_mask_cache(spec: str, work_dir: str | Path, convention: str = "coco23", progress: bool = True) -> tuple[Path, int, int]:
    """Run MediaPipe on every person's plain crop of set ``spec``; returns (folder, people,
    masks kept). Resumes: masks already written are kept."""
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
