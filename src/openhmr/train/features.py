"""Feature caching for CPU training: run the frozen first blocks of the encoder once per
image, store their output (float16) with the labels, and train the rest of the network from
that cache. On 2 CPU cores this turns the backbone's cost from every step into once per image.
The cache is keyed by the annotations file and the encoder split, and rebuilt when they change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from openhmr.data.mixing import collate
from openhmr.io import atomic_path


class FeatureDataset(torch.utils.data.Dataset):
    """Samples ``trunk (C, h, w) or (D,)`` float32 plus whatever labels were cached
    (``keypoints2d (K, 3)``, ``keypoints3d (K, 4)``, ``rotmats (J, 3, 3)``, ``shape (S,)``);
    ``has_params (N,)`` marks which samples carry parameters."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def __len__(self) -> int:
        return int(self.tensors["trunk"].shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = {"trunk": self.tensors["trunk"][index].float()}
        for key in ("keypoints2d", "keypoints3d", "mask", "mask_weight"):
            if key in self.tensors:
                sample[key] = self.tensors[key][index]
        if "rotmats" in self.tensors and self.tensors["has_params"][index] > 0:
            sample["rotmats"] = self.tensors["rotmats"][index]
            sample["shape"] = self.tensors["shape"][index]
        return sample


@torch.no_grad()
def build_feature_cache(
    encoder: torch.nn.Module,
    dataset: torch.utils.data.Dataset,
    frozen_blocks: int | None,
    path: str | Path,
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "caching features",
) -> FeatureDataset:
    """Run ``encoder.trunk`` over every sample of ``dataset`` (one draw of its crops) and save the
    outputs and labels to ``path`` (safetensors); reuse the file when it exists."""
    from safetensors.torch import load_file, save
    from tqdm import tqdm

    path = Path(path)
    if path.exists():
        return FeatureDataset(load_file(path))
    was_training = encoder.training
    encoder.eval()
    trunks: list[torch.Tensor] = []
    labels: list[dict[str, torch.Tensor]] = []
    for start in tqdm(range(0, len(dataset), batch_size), desc=desc, unit="batch", disable=not progress):
        samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        trunks.append(encoder.trunk(torch.stack([s.pop("image") for s in samples]), frozen_blocks).half())
        labels.extend(samples)
    encoder.train(was_training)
    # collate fills what a sample lacks (zero confidence, has_params 0), as in training batches.
    tensors = collate(labels, num_keypoints=labels[0]["keypoints2d"].shape[0])
    tensors["trunk"] = torch.cat(trunks)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # bytes through our writer: ordinary permissions, no stray temp files
        tmp.write_bytes(save(tensors))
    return FeatureDataset(tensors)


def labelled_subset(num: int, fraction: float, seed: int) -> np.ndarray:
    """(num,) bool: exactly round(fraction * num) samples, chosen at random, keep 3D labels."""
    keep = np.zeros(num, dtype=bool)
    keep[np.random.default_rng(seed).permutation(num)[: round(fraction * num)]] = True
    return keep


class Without3D(torch.utils.data.Dataset):
    """A dataset whose samples outside ``labelled`` lose their 3D joints and parameters: the
    weak-supervision regimes as seen by the losses."""

    def __init__(self, dataset: torch.utils.data.Dataset, labelled: np.ndarray):
        self.dataset = dataset
        self.labelled = labelled

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = dict(self.dataset[index])  # never edit a sample the wrapped dataset may share
        if not self.labelled[index]:
            for key in ("keypoints3d", "rotmats", "shape"):
                sample.pop(key, None)
        return sample
