"""Readers for Leeds Sports Pose (LSP) and LSP-extended: a folder with ``joints.mat`` and
``images/``, 14 joints per person in the ``lsp14`` order, one person per image.

The two files differ in layout and in the meaning of the flag row (see the datasets' READMEs):
LSP holds ``joints`` (3, 14, N) with 1 = *occluded*; LSP-extended holds (14, 3, N) with
1 = *visible*, and its invisible joints may hold nonsense coordinates. Both become
:class:`~openhmr.data.formats.Annotations` in the model's convention, mapped by landmark
name. The person's box is the extent of the labelled joints; the crop adds ``LSP_MARGIN``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.data.formats import (
    Annotations,
    _drop_bad_boxes,
    _invisible_if_not_finite,
    _reported,
    _to_convention,
)
from openhmr.errors import OpenHMRError
from openhmr.geometry.crop import STORED_MARGIN

# The crop spans 1.3x the joints' extent, as `predict` frames a box found from keypoints.
LSP_MARGIN = STORED_MARGIN
# LSP's usual split: images 1-1000 train, 1001-2000 test (1-based, inclusive).
LSP_SPLITS = {"train": (1, 1000), "test": (1001, 2000), "all": (1, None)}


def read_joints_mat(path: str | Path) -> tuple[np.ndarray, str]:
    """``joints.mat`` -> (N, 14, 3) pixels + visibility in {0, 1}, and which dataset it is
    (``"lsp"`` or ``"lspet"``, told apart by the array layout)."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        joints = np.asarray(loadmat(str(path))["joints"], dtype=np.float64)
    except (OSError, ValueError, KeyError, NotImplementedError) as e:
        raise OpenHMRError(f"Cannot read {path} as an LSP joints.mat ({type(e).__name__}: {e}).") from None
    if joints.ndim == 3 and joints.shape[:2] == (3, 14):  # LSP: flag row is "occluded"
        points = joints.transpose(2, 1, 0).copy()
        points[..., 2] = 1.0 - points[..., 2]
        return points, "lsp"
    if joints.ndim == 3 and joints.shape[:2] == (14, 3):  # LSP-extended: flag row is "visible"
        return joints.transpose(2, 0, 1).copy(), "lspet"
    raise OpenHMRError(f"{path}: 'joints' has shape {joints.shape}; LSP has (3, 14, N) and LSP-extended (14, 3, N).")


def read_lsp(folder: str | Path, split: str = "all", convention: str = "coco23") -> Annotations:
    """LSP or LSP-extended in ``folder`` (``joints.mat`` + ``images/``). ``split``: ``train``
    (images 1-1000), ``test`` (1001-2000) or ``all``; the split applies to LSP only
    (LSP-extended is a training set as a whole)."""
    folder = Path(folder)
    if split not in LSP_SPLITS:
        raise OpenHMRError(f"Unknown LSP split {split!r}; use train, test or all.")
    points, kind = read_joints_mat(folder / "joints.mat")
    n = len(points)
    digits = 4 if kind == "lsp" else 5
    names = np.array([f"im{i + 1:0{digits}d}.jpg" for i in range(n)])
    if kind == "lsp":
        first, last = LSP_SPLITS[split]
        keep = slice(first - 1, last)
        points, names = points[keep], names[keep]
    problems: dict[str, int] = {}
    points = _invisible_if_not_finite(points, problems, "2D keypoints")
    points[..., 2] = (points[..., 2] > 0).astype(np.float64)
    # Invisible joints may hold nonsense (LSP-extended): they never shape the box.
    visible = points[..., 2] > 0
    lo = np.where(visible[..., None], points[..., :2], np.inf).min(axis=1)
    hi = np.where(visible[..., None], points[..., :2], -np.inf).max(axis=1)
    few = visible.sum(axis=1) < 2
    if few.any():
        problems["people with fewer than 2 visible joints"] = int(few.sum())
    extent = np.where(few, np.nan, (hi - lo).max(axis=1))
    center = np.where(few[:, None], np.nan, (lo + hi) / 2)
    ann = Annotations(
        imgname=np.asarray(["images/" + name for name in names]),
        center=center,
        box_size=extent * LSP_MARGIN,
        keypoints2d=_to_convention(points, "lsp14", convention),
        convention=convention,
        image_root=folder,
        person_size=extent,
        problems=problems,
    )
    return _reported(_drop_bad_boxes(ann, image_sizes=None, source=folder), folder)
