"""Pose banks: real poses for the discriminator and the synthetic generator.

A bank is an ``.npz`` (no pickle): ``body_pose (N, J-1, 3)`` and ``global_orient (N, 3)``
axis-angle (camera axes, heading removed so every body faces the camera), ``clip_id (N,)``
indexing ``clip_names (C,)``, ``frame (N,)`` the source frame, and ``body_model``. Splits into
train / test / discriminator sets are made by clip, never by frame.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import roma
import torch

from openhmr.errors import OpenHMRError
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclasses.dataclass
class PoseBank:
    body_pose: np.ndarray
    global_orient: np.ndarray
    clip_id: np.ndarray
    clip_names: np.ndarray
    frame: np.ndarray
    body_model: str

    def __len__(self) -> int:
        return int(self.body_pose.shape[0])

    def save(self, path: str | Path) -> Path:
        from openhmr.io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **{k: np.asarray(v) for k, v in dataclasses.asdict(self).items()})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> PoseBank:
        try:
            with np.load(Path(path).expanduser(), allow_pickle=False) as f:
                bank = cls(**{field.name: f[field.name] for field in dataclasses.fields(cls)})
        except (OSError, KeyError, ValueError) as e:
            raise OpenHMRError(f"Cannot read pose bank {path} ({e}); make one with `openhmr mocap`.") from None
        bank.body_model = str(bank.body_model)
        if len(bank) == 0:
            raise OpenHMRError(f"Pose bank {path} is empty.")
        return bank

    @classmethod
    def concatenate(cls, parts: list[PoseBank]) -> PoseBank:
        """Join banks of the same body model, renumbering clips."""
        names, ids, offset = [], [], 0
        for part in parts:
            names.extend(part.clip_names.tolist())
            ids.append(part.clip_id + offset)
            offset += len(part.clip_names)
        return cls(
            np.concatenate([p.body_pose for p in parts]),
            np.concatenate([p.global_orient for p in parts]),
            np.concatenate(ids),
            np.array(names),
            np.concatenate([p.frame for p in parts]),
            parts[0].body_model,
        )


def remove_heading(global_orient: torch.Tensor) -> torch.Tensor:
    """Turn each body about the camera's vertical (y) axis to face the camera; keep its tilt.

    global_orient (N, 3) axis-angle, camera axes -> (N, 3).
    """
    rot = axis_angle_to_matrix(global_orient.double())
    forward = rot[:, :, 2]  # where the body's back points; (0, 0, 1) when facing the camera
    heading = torch.atan2(forward[:, 0], forward[:, 2])
    undo = roma.rotvec_to_rotmat(torch.stack([torch.zeros_like(heading), -heading, torch.zeros_like(heading)], 1))
    return matrix_to_axis_angle(undo @ rot).to(global_orient.dtype)


# Extremities whose capture is noisy (toes, fingers, thumbs jitter by degrees per frame at
# 120 Hz): they do not decide whether a frame is new.
_NOISY_JOINTS = re.compile(r"(?i)toe|finger|thumb|_hand$|_foot$")


def deciding_joints(joint_names: tuple[str, ...]) -> list[int]:
    """Indices into body_pose (non-root joints) of the joints that decide distinctness."""
    return [i for i, name in enumerate(joint_names[1:]) if not _NOISY_JOINTS.search(name)]


def distinct_frames(body_pose: torch.Tensor, min_degrees: float, joints: list[int] | None = None) -> list[int]:
    """Greedy subsampling: keep a frame when one of ``joints`` (default all) turned
    ``min_degrees`` or more since the last kept frame.

    body_pose (T, J-1, 3) -> kept frame indices (the first always).
    """
    if joints is not None:
        body_pose = body_pose[:, joints]
    rot = axis_angle_to_matrix(body_pose.double())
    threshold = np.radians(min_degrees)
    kept = [0]
    for t in range(1, rot.shape[0]):
        relative = rot[kept[-1]].transpose(-1, -2) @ rot[t]
        if float(roma.rotmat_geodesic_distance(relative, torch.eye(3, dtype=relative.dtype)).max()) >= threshold:
            kept.append(t)
    return kept


def clip_bank(
    global_orient: torch.Tensor,
    body_pose: torch.Tensor,
    clip_name: str,
    body_model: str,
    min_degrees: float,
    joints: list[int] | None = None,
) -> PoseBank:
    """One clip's frames as a bank: heading removed, near-duplicate frames dropped (judged on
    ``joints``)."""
    keep = distinct_frames(body_pose, min_degrees, joints)
    return PoseBank(
        body_pose[keep].numpy().astype(np.float32),
        remove_heading(global_orient[keep]).numpy().astype(np.float32),
        np.zeros(len(keep), dtype=np.int64),
        np.array([clip_name]),
        np.array(keep, dtype=np.int64),
        body_model,
    )
