"""Mixed batches for weak supervision, and the unpaired mocap stream for the discriminator.

A batch draws a set share of its samples from each source (2D-only, 3D, parameter-labelled
sets); a field one source lacks is zero-filled with zero visibility / confidence / has-flag,
so the losses ignore it. The discriminator's "real" poses come from a pose bank split by
clip, never by frame.
"""

from __future__ import annotations

import numpy as np
import torch

from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.mocap.pose_bank import PoseBank


def split_clips(bank: PoseBank, fractions: dict[str, float], seed: int = 0) -> dict[str, PoseBank]:
    """Disjoint sub-banks by clip, e.g. ``{"train": 0.7, "test": 0.15, "discriminator": 0.15}``."""
    order = np.random.default_rng(seed).permutation(len(bank.clip_names))
    total = sum(fractions.values())
    bounds = np.round(np.cumsum([0.0, *fractions.values()]) / total * len(order)).astype(int)
    if len(order) >= len(fractions):  # every part gets at least one clip when there are enough
        for k in range(len(bounds) - 2, 0, -1):
            bounds[k] = min(bounds[k], bounds[k + 1] - 1)
        for k in range(1, len(bounds) - 1):
            bounds[k] = max(bounds[k], bounds[k - 1] + 1)
    out = {}
    for (name, _), lo, hi in zip(fractions.items(), bounds[:-1], bounds[1:]):
        out[name] = select_clips(bank, order[lo:hi])
    return out


def select_clips(bank: PoseBank, clip_ids) -> PoseBank:
    """The frames of the given clips, clips renumbered from 0."""
    clip_ids = np.asarray(sorted(int(c) for c in clip_ids), dtype=np.int64)
    keep = np.isin(bank.clip_id, clip_ids)
    renumber = {c: i for i, c in enumerate(clip_ids)}
    return PoseBank(
        bank.body_pose[keep],
        bank.global_orient[keep],
        np.array([renumber[int(c)] for c in bank.clip_id[keep]], dtype=np.int64),
        bank.clip_names[clip_ids],
        bank.frame[keep],
        bank.body_model,
    )


def collate(samples: list[dict[str, torch.Tensor]], num_keypoints: int) -> dict[str, torch.Tensor]:
    """Stack samples; fill what a sample lacks so that no loss sees it.

    Always returns image (B, 3, H, W) (or trunk, cached features), keypoints2d (B, K, 3), keypoints3d (B, K, 4); and
    rotmats / shape / has_params when any sample carries parameters, mask (B, 64, 64) uint8 /
    mask_weight (B,) when any carries a mask.
    """
    # Image crops, or the cached output of a frozen encoder trunk in their place.
    batch = {key: torch.stack([s[key] for s in samples]) for key in ("image", "trunk") if key in samples[0]}
    batch["keypoints2d"] = torch.stack([s.get("keypoints2d", torch.zeros(num_keypoints, 3)) for s in samples])
    batch["keypoints3d"] = torch.stack([s.get("keypoints3d", torch.zeros(num_keypoints, 4)) for s in samples])
    if any("mask" in s for s in samples):
        from openhmr.silhouette.losses import MASK_RES

        empty = torch.zeros(MASK_RES, MASK_RES, dtype=torch.uint8)
        batch["mask"] = torch.stack([s.get("mask", empty) for s in samples])
        batch["mask_weight"] = torch.stack([s.get("mask_weight", torch.tensor(0.0)) for s in samples])
    with_params = [s for s in samples if "rotmats" in s]
    if with_params:
        like_rot, like_shape = with_params[0]["rotmats"], with_params[0]["shape"]
        batch["rotmats"] = torch.stack([s.get("rotmats", torch.eye(3).expand_as(like_rot)) for s in samples])
        batch["shape"] = torch.stack([s.get("shape", torch.zeros_like(like_shape)) for s in samples])
        batch["has_params"] = torch.tensor([float("rotmats" in s) for s in samples])
    return batch


class MixedBatches:
    """Endless batches drawing ``share`` of each batch from each source.

    sources: {name: (dataset, share)}; shares are normalised; every batch has exactly
    ``batch_size`` samples (largest-remainder rounding). Each source is walked in a fresh
    random order, cycling. ``start_batch`` (a resumed run's position) reseeds the orders so
    that a resumed run does not replay the batches it began with; ``rank`` (a distributed
    run's process) gives each process orders of its own.
    """

    def __init__(self, sources: dict, batch_size: int, num_keypoints: int, seed: int = 0, start_batch: int = 0,
                 rank: int = 0):
        self.sources = sources
        self.batch_size = batch_size
        self.num_keypoints = num_keypoints
        # [seed] draws as seed alone: a run without resume or ranks keeps its batches.
        self.rng = np.random.default_rng([seed, *([start_batch] if start_batch else []), *([rank] if rank else [])])
        shares = np.array([share for _, share in sources.values()], dtype=np.float64)
        exact = shares / shares.sum() * batch_size
        counts = np.floor(exact).astype(int)
        counts[np.argsort(exact - counts)[::-1][: batch_size - counts.sum()]] += 1
        self.counts = dict(zip(sources, counts.tolist()))
        self._orders = {name: iter(()) for name in sources}

    def _next_index(self, name: str) -> int:
        try:
            return next(self._orders[name])
        except StopIteration:
            dataset = self.sources[name][0]
            self._orders[name] = iter(self.rng.permutation(len(dataset)).tolist())
            return next(self._orders[name])

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        samples = []
        for name, count in self.counts.items():
            dataset = self.sources[name][0]
            samples.extend(dataset[self._next_index(name)] for _ in range(count))
        return collate(samples, self.num_keypoints)


class MocapStream:
    """Endless batches of real poses for the discriminator: body rotations (B, J-1, 3, 3) and
    shapes (B, S) drawn by ``sample_shapes(count, generator)`` (a body model's
    :meth:`~openhmr.body.base.BodyModel.sample_shapes`: real people, not uniform in the bounds)."""

    def __init__(self, bank: PoseBank, batch_size: int, sample_shapes, seed: int = 0):
        self.poses = torch.from_numpy(bank.body_pose).float()
        self.batch_size = batch_size
        self.sample_shapes = sample_shapes
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._draw(self.generator)

    def sample(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch drawn from a generator seeded with ``seed`` (reproducible after a resume)."""
        return self._draw(torch.Generator().manual_seed(seed))

    def _draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.poses), (self.batch_size,), generator=generator)
        shape = self.sample_shapes(self.batch_size, generator).float()
        return axis_angle_to_matrix(self.poses[index]), shape
