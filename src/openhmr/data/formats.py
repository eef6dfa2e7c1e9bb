"""Readers for the annotation formats users bring: SPIN-style ``.npz`` (what the preprocessed
LSP, MPII, COCO, H36M, MPI-INF-3DHP and 3DPW files hold) and COCO keypoint JSON.

Each maps its keypoint convention onto a target convention (the model's, e.g. ``coco23``) by
landmark name: a target landmark the source lacks is invisible, never guessed. Labels that
are not finite are made invisible and counted; people whose box lies outside their image are
skipped and counted. Image files are checked later, when loaded.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from openhmr.body import keypoints as kp
from openhmr.errors import OpenHMRError

log = logging.getLogger(__name__)

# SPIN stores box sizes as "scale" in units of 200 px; COCO boxes get SPIN's 1.2 margin.
SPIN_SCALE_PX = 200.0
BOX_MARGIN = 1.2


@dataclasses.dataclass
class Annotations:
    """N labelled people.

    imgname (N,) paths relative to ``image_root``; center (N, 2) and box_size (N,) pixels
    (square box); keypoints2d (N, K, 3) pixels + visibility and keypoints3d (N, K, 4) metres +
    confidence or None, both in ``convention``; pose (N, 3 J), shape (N, S) and has_params (N,)
    when the file carries parameters of ``body_model`` ("smpl" for SPIN's files, "anny" for
    openhmr's synthetic sets); person_size (N,) the longer side of the person's own box in
    pixels (the labelled box, or the labelled joints' extent), the unit of PCK, when known.
    """

    imgname: np.ndarray
    center: np.ndarray
    box_size: np.ndarray
    keypoints2d: np.ndarray
    convention: str
    image_root: Path
    keypoints3d: np.ndarray | None = None
    pose: np.ndarray | None = None
    shape: np.ndarray | None = None
    has_params: np.ndarray | None = None
    body_model: str | None = None
    person_size: np.ndarray | None = None
    problems: dict[str, int] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.imgname.shape[0])


def _to_convention(points: np.ndarray, source: str, target: str) -> np.ndarray:
    """(N, Ks, D) named by ``source`` -> (N, Kt, D); missing landmarks all zero (invisible)."""
    converted, _ = kp.convert(torch.from_numpy(np.ascontiguousarray(points, dtype=np.float64)), kp.convention_names(source), target)
    return converted.numpy()


def _invisible_if_not_finite(points: np.ndarray, problems: dict[str, int], what: str) -> np.ndarray:
    """Zero the confidence (last column) of entries with a non-finite value; count them."""
    bad = ~np.isfinite(points).all(axis=-1)
    if bad.any():
        problems[f"non-finite {what}"] = int(bad.sum())
        points = np.where(bad[..., None], 0.0, points)
    return points


def read_spin_npz(path: str | Path, convention: str = "coco23", image_root: str | Path | None = None) -> Annotations:
    """A SPIN-style ``.npz``: ``imgname, center, scale, part (N, K, 3)``, optionally
    ``S (N, K, 4)``, ``pose``, ``shape``, ``has_smpl``. K points follow the file's
    ``keypoint_convention`` (openhmr's synthetic sets: coco23), else SPIN's 24-joint order;
    parameters belong to the file's ``body_model``, else SMPL."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise OpenHMRError(f"Cannot read {path} as a SPIN-style .npz ({e}).") from None
    # SPIN's 3DPW test file holds parameters instead of keypoints (no part, no S): its
    # ground truth comes from the body model (see openhmr.eval.evaluate).
    required = ("imgname", "center", "scale") + (() if {"pose", "shape"} <= set(data) else ("part",))
    missing = [k for k in required if k not in data]
    if missing:
        raise OpenHMRError(f"{path}: missing {missing}; a SPIN-style .npz has imgname, center, scale and part (or pose and shape).")
    n = len(data["imgname"])
    source = str(data.get("keypoint_convention", "spin24"))
    k = len(kp.convention_names(source))
    if "part" not in data:
        data["part"] = np.zeros((n, k, 3))
    if data["part"].shape != (n, k, 3):
        raise OpenHMRError(f"{path}: 'part' has shape {data['part'].shape}, expected ({n}, {k}, 3) in the {source} order.")
    problems: dict[str, int] = {}
    part = _invisible_if_not_finite(data["part"].astype(np.float64), problems, "2D keypoints")
    keypoints3d = None
    if "S" in data:
        keypoints3d = _to_convention(_invisible_if_not_finite(data["S"].astype(np.float64), problems, "3D joints"), source, convention)
    has_smpl = data.get("has_smpl")
    return _reported(_drop_bad_boxes(
        Annotations(
            imgname=data["imgname"].astype(str),
            center=data["center"].astype(np.float64),
            box_size=data["scale"].astype(np.float64) * SPIN_SCALE_PX,
            keypoints2d=_to_convention(part, source, convention),
            convention=convention,
            image_root=Path(image_root) if image_root else path.parent,
            keypoints3d=keypoints3d,
            pose=data.get("pose"),
            shape=data.get("shape"),
            has_params=None if has_smpl is None else has_smpl.astype(np.float64),
            body_model=str(data.get("body_model", "smpl")),
            problems=problems,
        ),
        image_sizes=None,
        source=path,
    ), path)


def read_coco_json(
    path: str | Path, convention: str = "coco23", image_root: str | Path | None = None, min_keypoints: int = 1
) -> Annotations:
    """COCO person keypoints (17 per person) through pycocotools; crowds and people with fewer
    than ``min_keypoints`` labelled points are left out."""
    from pycocotools.coco import COCO

    path = Path(path)
    try:
        coco = COCO(str(path))
    except (OSError, ValueError, KeyError) as e:
        raise OpenHMRError(f"Cannot read {path} as COCO keypoint JSON ({type(e).__name__}: {e}).") from None
    names, centers, sizes, points, image_sizes, person = [], [], [], [], [], []
    for ann in coco.loadAnns(coco.getAnnIds(iscrowd=False)):
        if ann.get("num_keypoints", 0) < min_keypoints or "keypoints" not in ann:
            continue
        image = coco.loadImgs(ann["image_id"])[0]
        x, y, w, h = ann["bbox"]
        names.append(image["file_name"])
        centers.append([x + w / 2, y + h / 2])
        sizes.append(max(w, h) * BOX_MARGIN)
        person.append(max(w, h))
        k = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        k[:, 2] = (k[:, 2] > 0).astype(np.float64)  # COCO's 1 (occluded) and 2 (visible) are both labels
        points.append(k)
        image_sizes.append([image["width"], image["height"]])
    problems: dict[str, int] = {}
    keypoints = np.asarray(points).reshape(-1, 17, 3)
    return _reported(_drop_bad_boxes(
        Annotations(
            imgname=np.asarray(names, dtype=str),
            center=np.asarray(centers, dtype=np.float64).reshape(-1, 2),
            box_size=np.asarray(sizes, dtype=np.float64),
            keypoints2d=_to_convention(_invisible_if_not_finite(keypoints, problems, "2D keypoints"), "coco17", convention),
            convention=convention,
            image_root=Path(image_root) if image_root else _coco_image_root(path),
            person_size=np.asarray(person, dtype=np.float64),
            problems=problems,
        ),
        image_sizes=np.asarray(image_sizes, dtype=np.float64).reshape(-1, 2),
        source=path,
    ), path)


def _coco_image_root(path: Path) -> Path:
    """COCO JSONs name bare files: they sit in an ``images/`` folder beside the JSON, or beside it."""
    return path.parent / "images" if (path.parent / "images").is_dir() else path.parent


MAX_BAD_FRACTION = 0.5


def _drop_bad_boxes(ann: Annotations, image_sizes: np.ndarray | None, source: Path) -> Annotations:
    """Skip people whose box is degenerate, not finite, or (sizes known) entirely off-image;
    fail when more than ``MAX_BAD_FRACTION`` of them are."""
    good = np.isfinite(ann.center).all(1) & np.isfinite(ann.box_size) & (ann.box_size > 1)
    if image_sizes is not None:
        half = ann.box_size[:, None] / 2
        good &= ((ann.center + half) > 0).all(1) & ((ann.center - half) < image_sizes).all(1)
    if not good.all():
        bad = int((~good).sum())
        if bad > MAX_BAD_FRACTION * len(good):
            raise OpenHMRError(f"{source}: {bad} of {len(good)} people have boxes outside their image or degenerate; check the file.")
        ann.problems["boxes outside the image or degenerate"] = bad
    for field in dataclasses.fields(ann):
        value = getattr(ann, field.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == good.shape:
            setattr(ann, field.name, value[good])
    return ann


def _reported(ann: Annotations, source: Path) -> Annotations:
    """Warn once per kind of problem found while reading (never silently)."""
    for what, count in ann.problems.items():
        log.warning("%s: %d %s (made invisible or skipped)", source, count, what)
    return ann
