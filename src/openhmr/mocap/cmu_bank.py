"""``openhmr mocap``: motion-capture files -> one pose bank for a body model.

CMU BVH and ASF/AMC clips drive the Anny ``cmu_mb`` rig; AMASS-style ``.npz`` files
(``poses``) drive SMPL. A file that cannot be used is skipped with a warning that says why;
the run fails in one sentence when more than ``max_bad_fraction`` of the files are bad.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from openhmr.body.base import BodyModel
from openhmr.errors import OpenHMRError
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from openhmr.mocap.asf_amc import find_asf, read_asf_amc, read_bvh
from openhmr.mocap.pose_bank import PoseBank, clip_bank, deciding_joints

log = logging.getLogger(__name__)

# AMASS worlds are z up: their x, -z, y become the camera's x (right), y (down), z (forward).
_Z_UP_TO_CAMERA = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def amass_poses(path: Path, body: BodyModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Global orientation (T, 3) in camera axes and body pose (T, 23, 3) from an AMASS npz."""
    try:
        with np.load(path, allow_pickle=False) as f:
            poses = torch.from_numpy(np.asarray(f["poses"], dtype=np.float64))
    except (OSError, KeyError, ValueError) as e:
        raise OpenHMRError(f"not an AMASS-style .npz with a 'poses' array ({e})") from None
    if poses.ndim != 2 or poses.shape[1] < 66:
        raise OpenHMRError(f"'poses' has shape {tuple(poses.shape)}, expected (T, 72) or (T, 156)")
    body_pose = torch.zeros(poses.shape[0], 23, 3, dtype=torch.float64)
    # SMPL's 23 body joints; SMPL-H files (156 values) carry 21 of them, then the hands.
    joints = 23 if poses.shape[1] == 72 else 21
    body_pose[:, :joints] = poses[:, 3 : 3 + 3 * joints].reshape(-1, joints, 3)
    world = axis_angle_to_matrix(poses[:, :3])
    up = body.up_rotation.double()
    global_cam = _Z_UP_TO_CAMERA @ world @ up.T
    return matrix_to_axis_angle(global_cam).float(), body_pose.float()


def clip_poses(path: Path, body: BodyModel, retargeter, asf: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if body.name != "smpl":
            raise OpenHMRError("AMASS .npz files hold SMPL poses; use --body-model PATH_TO_SMPL")
        return amass_poses(path, body)
    if body.name != "anny":
        raise OpenHMRError("CMU BVH/ASF-AMC clips drive the Anny body; use --body-model anny")
    if suffix == ".bvh":
        motion = read_bvh(path)
    elif suffix == ".amc":
        motion = read_asf_amc(asf or find_asf(path), path)
    else:
        raise OpenHMRError("unsupported file type (use .bvh, .amc or AMASS .npz)")
    return retargeter(motion)


def build_pose_bank(
    files: list[Path],
    body: BodyModel,
    min_degrees: float = 5.0,
    asf: Path | None = None,
    max_bad_fraction: float = 0.5,
    progress: bool = True,
) -> tuple[PoseBank, list[tuple[Path, str]]]:
    """Convert every clip; return the bank and the skipped files with their reasons."""
    from tqdm import tqdm

    retargeter = None
    if body.name == "anny":
        from openhmr.mocap.retarget import AnnyRetargeter

        retargeter = AnnyRetargeter(body)
    parts, skipped = [], []
    joints = deciding_joints(body.joint_names)
    for path in tqdm(files, desc="mocap", unit="clip", disable=not progress):
        try:
            global_orient, body_pose = clip_poses(Path(path), body, retargeter, asf)
            if body_pose.shape[0] == 0 or not torch.isfinite(body_pose).all():
                raise OpenHMRError("no frames with finite angles")
        except OpenHMRError as e:
            skipped.append((Path(path), str(e)))
            log.warning("skipped %s: %s", path, e)
            continue
        parts.append(clip_bank(global_orient, body_pose, Path(path).stem, body.name, min_degrees, joints))
    if not files:
        raise OpenHMRError("No motion files given.")
    if len(skipped) > max_bad_fraction * len(files) or not parts:
        raise OpenHMRError(
            f"{len(skipped)} of {len(files)} motion files could not be used (first: {skipped[0][0]}: "
            f"{skipped[0][1]}); check the files and the body model."
        )
    return PoseBank.concatenate(parts), skipped
