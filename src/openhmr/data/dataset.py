"""A PyTorch dataset over :class:`~openhmr.data.formats.Annotations`: read the image, crop the
person's box at 224², augment, and return tensors in the fields the losses read.

Images that are missing or unreadable are skipped (another sample is served in their place)
and counted; once more than ``max_bad_fraction`` of the images seen are bad, the next bad one
ends the run with one sentence.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from openhmr.body import keypoints as kp
from openhmr.data.augment import (
    Augmentation,
    augment_3d,
    augment_keypoints,
    jitter_colour,
    occlude,
)
from openhmr.data.formats import Annotations
from openhmr.data.framing import reframed
from openhmr.data.truncate import CUTS, blank_below, cut_row, truncated_box
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES
from openhmr.geometry.crop import STORED_MARGIN, warp_image
from openhmr.geometry.rotations import axis_angle_to_matrix

log = logging.getLogger(__name__)


class CropDataset(torch.utils.data.Dataset):
    """Samples: ``image (3, res, res)`` in [0, 1], ``keypoints2d (K, 3)`` crop coordinates and
    visibility, and when labelled ``keypoints3d (K, 4)`` camera-frame metres and confidence
    (rotated and mirrored with the crop); and, when the annotations carry body-model
    parameters, ``rotmats (J, 3, 3)`` (global orientation first) and ``shape (S,)``.
    ``mirror_pose`` (the body model's :meth:`~openhmr.body.base.BodyModel.mirror_pose`)
    is needed to keep parameters on flipped crops; without it they are dropped there.

    ``masks``: also serve ``mask (64, 64)`` uint8, the person's coverage of the crop (cut
    with the same matrix as the image), and ``mask_weight`` (its confidence; 0 when the
    sample has none). ``masks`` is True (the mask file beside each image: synthetic sets) or
    a :class:`openhmr.data.mask_cache.MaskCache` (real photos). ``margin``: the crop's side
    over the person's tight box (every box widened from the stored framing, see
    :mod:`openhmr.data.framing`; also the framing of truncated crops); ``ann`` holds the
    widened boxes. ``turns`` (N,): degrees each person's crops are turned counter-clockwise
    on screen on top of any augmentation, labels with them (upright crops, see
    :func:`upright_turns`)."""

    def __init__(
        self,
        annotations: Annotations,
        res: int = CROP_RES,
        augment: bool = False,
        seed: int = 0,
        max_bad_fraction: float = 0.1,
        mirror_pose=None,
        masks=False,
        truncation: float = 0.0,
        margin: float = STORED_MARGIN,
        turns: np.ndarray | None = None,
    ):
        self.turns = turns  # (N,) degrees each person's crops are turned beyond any augmentation
        self.stored = annotations  # the boxes as stored: what mask caches were cut from
        self.ann = reframed(annotations, margin)
        self.truncation = truncation
        self.margin = margin
        self.masks = masks
        self.res = res
        self.augment = augment
        self.seed = seed
        self.max_bad_fraction = max_bad_fraction
        self.flip_perm = kp.flip_permutation(annotations.convention)
        self.mirror_pose = mirror_pose
        self.seen = 0
        self.bad: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.ann)

    def _read_image(self, index: int) -> np.ndarray | None:
        path = self.ann.image_root / str(self.ann.imgname[index])
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as e:
            self.bad[str(path)] = f"{type(e).__name__}: {e}"
            log.warning("skipped %s (%s); %d bad images so far", path, e, len(self.bad))
            return None

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        for attempt in range(len(self)):
            i = (index + attempt) % len(self)
            self.seen += 1
            image = self._read_image(i)
            if image is not None:
                return self._sample(i, image)
            if len(self.bad) > self.max_bad_fraction * max(self.seen, 10):
                raise OpenHMRError(
                    f"{len(self.bad)} of {self.seen} images could not be read (e.g. {next(iter(self.bad))}); "
                    f"check the image folder {self.ann.image_root}."
                )
        raise OpenHMRError(f"No readable image among the {len(self)} samples of {self.ann.image_root}.")

    def sample_or_none(self, index: int, rotation: float = 0.0) -> dict[str, torch.Tensor] | None:
        """Sample ``index`` itself, or None when its image cannot be read (``__getitem__``
        would serve the next readable one instead): for work that must account for each person.
        ``rotation``: degrees the (unaugmented) crop is turned counter-clockwise on screen, its
        labels with it."""
        image = self._read_image(index)
        return None if image is None else self._sample(index, image, rotation)

    def turned(self, indices: list[int], crops: torch.Tensor, turn) -> tuple[torch.Tensor, np.ndarray]:
        """The people ``indices``, whose plain crops are ``crops`` (B, 3, R, R), cut again turned
        upright: (B, 3, R, R) and the turns (B,) degrees, found by ``turn`` (uint8 crops
        (B, R, R, 3) -> degrees: :class:`openhmr.detect.upright.UprightTurn`). A person whose
        image no longer reads keeps the plain crop, turn 0."""
        from openhmr.detect.mediapipe import crop_rgb

        angles = np.array(turn(crop_rgb(crops)), dtype=np.float64)
        samples = [self.sample_or_none(i, rotation=float(a)) for i, a in zip(indices, angles)]
        angles[[s is None for s in samples]] = 0.0
        return torch.stack([crop if s is None else s["image"] for s, crop in zip(samples, crops)]), angles

    def _sample(self, i: int, image: np.ndarray, rotation: float = 0.0) -> dict[str, torch.Tensor]:
        aug = Augmentation(rotation=rotation)
        center, box_size = self.ann.center[i], float(self.ann.box_size[i])
        if self.augment:
            rng = np.random.default_rng([self.seed, i, self.seen])
            aug = Augmentation.sample(rng)
            if self.truncation > 0 and rng.random() < self.truncation:
                image, center, box_size = self._truncate(i, image, rng, center, box_size)
        if self.turns is not None:
            aug = dataclasses.replace(aug, rotation=aug.rotation + float(self.turns[i]))
        matrix = aug.crop_matrix(center, box_size, self.res)
        flip = self.flip_perm if aug.flip else None
        keypoints = augment_keypoints(self.ann.keypoints2d[i], matrix, self.res, flip)
        crop, keypoints = occlude(jitter_colour(warp_image(image, matrix, self.res), aug), keypoints, aug)
        sample = {
            "image": torch.from_numpy(crop.copy()).permute(2, 0, 1).float() / 255,
            "keypoints2d": torch.from_numpy(keypoints).float(),
        }
        if self.masks:
            sample.update(self._mask(i, matrix))
        if self.ann.keypoints3d is not None:
            joints, _ = augment_3d(torch.from_numpy(self.ann.keypoints3d[i]).float(), None, aug, self.flip_perm)
            sample["keypoints3d"] = joints
        if self.ann.pose is not None and self._has_params(i) and not (aug.flip and self.mirror_pose is None):
            pose = torch.from_numpy(np.asarray(self.ann.pose[i], dtype=np.float32)).view(-1, 3)
            _, global_orient = augment_3d(None, pose[0], aug)
            body_pose = pose[1:]
            if aug.flip:
                _, body_pose = self.mirror_pose(global_orient[None], body_pose[None])
                body_pose = body_pose[0]
            sample["rotmats"] = axis_angle_to_matrix(torch.cat([global_orient[None], body_pose]))
            sample["shape"] = torch.from_numpy(np.asarray(self.ann.shape[i], dtype=np.float32))
        return sample

    def _truncate(self, i: int, image: np.ndarray, rng: np.random.Generator, center, box_size):
        """The photo cut at a random level (knees, hips, chest) and the box a detector would
        give what remains; unchanged when the person's labels cannot place the cut."""
        keypoints = self.ann.keypoints2d[i]
        row = cut_row(keypoints, self.ann.convention, CUTS[int(rng.integers(len(CUTS)))])
        box = None if row is None else truncated_box(keypoints, row, self.margin)
        if box is None:
            return image, center, box_size
        return blank_below(image, row), box[0], box[1]

    def _mask(self, i: int, matrix: np.ndarray) -> dict[str, torch.Tensor]:
        from openhmr.data.masks import (
            mask_path_beside,
            no_mask,
            person_coverage,
            read_mask,
        )
        from openhmr.silhouette.losses import MASK_RES

        if self.masks is not True:
            return self.masks.crop_coverage(i, matrix, self.stored, self.res)
        mask = read_mask(mask_path_beside(self.ann.image_root / str(self.ann.imgname[i])))
        if mask is None:
            return no_mask()
        return {"mask": torch.from_numpy(person_coverage(mask, matrix, self.res, MASK_RES)), "mask_weight": torch.tensor(1.0)}

    def _has_params(self, i: int) -> bool:
        return self.ann.has_params is None or bool(self.ann.has_params[i] > 0)


def upright_turns(annotations: Annotations, res: int = CROP_RES, margin: float = STORED_MARGIN, batch_size: int = 64,
                  progress: bool = True, desc: str = "upright turns") -> np.ndarray:  # fmt: skip
    """(N,) degrees that turn each person of ``annotations`` upright in their plain ``res``² crop
    (framed at ``margin``): MediaPipe's person detector on that crop, as ``predict --upright``
    finds the turn (0 where it finds nobody or the image cannot be read)."""
    from tqdm import tqdm

    from openhmr.detect.mediapipe import crop_rgb
    from openhmr.detect.upright import UprightTurn

    turn, plain = UprightTurn(), CropDataset(annotations, res, margin=margin)
    angles = np.zeros(len(plain))
    for start in tqdm(range(0, len(plain), batch_size), desc=desc, unit="batch", disable=not progress):
        batch = [(i, plain.sample_or_none(i)) for i in range(start, min(start + batch_size, len(plain)))]
        batch = [(i, s) for i, s in batch if s is not None]
        if batch:
            angles[[i for i, _ in batch]] = turn(crop_rgb(torch.stack([s["image"] for _, s in batch])))
    return angles
