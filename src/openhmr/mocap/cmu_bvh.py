"""Body motion <-> a BVH on the CMU skeleton.

Anny's ``cmu_mb`` rig is the CMU MotionBuilder skeleton (Hips, LHipJoint, LeftUpLeg, ...), so
its bones become the BVH's joints with their own names: Blender, Maya and MotionBuilder open
the file directly, and ``openhmr mocap`` reads it back as a pose bank.

Axes and units are those of CMU's BVH files: y up, +z the subject's front at rest, +x the
subject's left; centimetres. Anny's ``local-ref`` pose (each bone's rotation relative to its
parent, in world-aligned axes, identity at the rest pose) is exactly what BVH rotations are
when the rest offsets are given in world axes, so each rotation only changes axes. The
motion stays in the camera's frame turned y-up (a tilted camera tilts the floor); it is
shifted so that the first frame's hips stand above the origin at their rest height.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from openhmr.body.anny_body import AnnyBody
from openhmr.errors import OpenHMRError
from openhmr.mocap.asf_amc import Motion
from openhmr.mocap.bvh import Skeleton
from openhmr.mocap.retarget import CMU_TO_ANNY_AXES

CM_PER_M = 100.0
ANNY_TO_BVH = CMU_TO_ANNY_AXES.T  # Anny (z up, -y front) -> CMU BVH (y up, +z front)


@dataclasses.dataclass
class BodyMotion:
    """One person's motion, as the body model takes it.

    rotmats (T, J, 3, 3): the global orientation (camera axes) then each bone's local-ref
    rotation; translation (T, 3): metres, camera frame (Anny's root joint sits there);
    shape (S,) one body for the whole clip; found (T,) frames where the person was seen
    (the others hold the nearest seen frame's estimate); fps: frames per second.
    """

    rotmats: torch.Tensor
    translation: torch.Tensor
    shape: torch.Tensor
    fps: float
    found: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.rotmats.shape[0])


def camera_to_bvh(body: AnnyBody) -> np.ndarray:
    """(3, 3) taking camera-frame vectors to BVH axes (Anny's frame is upᵀ · camera)."""
    return ANNY_TO_BVH @ body.up_rotation.double().numpy().T


def skeleton(body: AnnyBody, shape: torch.Tensor) -> tuple[Skeleton, float]:
    """The rig's rest skeleton for phenotype ``shape`` (S,) in BVH axes and centimetres, and
    the hips' rest height above the soles (cm)."""
    with torch.no_grad():
        rest = body.anny(phenotype_kwargs=shape.reshape(1, -1).to(body.mean_shape.dtype))
    heads = rest["rest_bone_heads"][0].double().numpy()
    tails = rest["rest_bone_tails"][0].double().numpy()
    parents = list(body.parents)
    offsets = np.array([np.zeros(3) if p < 0 else heads[j] - heads[p] for j, p in enumerate(parents)])
    to_bvh = ANNY_TO_BVH * CM_PER_M
    hip_height = (heads[0, 2] - float(rest["rest_vertices"][0, :, 2].min())) * CM_PER_M
    return Skeleton(list(body.joint_names), parents, offsets @ to_bvh.T, (tails - heads) @ to_bvh.T), hip_height


def to_bvh_channels(body: AnnyBody, motion: BodyMotion, hip_height_cm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BVH local rotations (T, J, 3, 3), root positions (T, 3) cm, and the shift (3,) cm that
    was subtracted from the camera-frame root (so ``camera = M⁻¹ (root + shift) / 100``)."""
    if not isinstance(body, AnnyBody):
        raise OpenHMRError("BVH export needs the Anny body (its rig is the CMU skeleton); this checkpoint uses another body.")
    m = camera_to_bvh(body)
    a = ANNY_TO_BVH
    rot = motion.rotmats.double().numpy()
    local = np.empty_like(rot)
    local[:, 0] = m @ rot[:, 0] @ m.T
    local[:, 1:] = a @ rot[:, 1:] @ a.T
    root = motion.translation.double().numpy() @ m.T * CM_PER_M
    shift = root[0] - np.array([0.0, hip_height_cm, 0.0])
    return local, root - shift, shift


def from_bvh_motion(body: AnnyBody, read: Motion, shift_cm: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A BVH written by :func:`to_bvh_channels` and read by ``read_bvh`` -> the body's rotmats
    (T, J, 3, 3) and camera-frame translation (T, 3), metres (``shift_cm``: the shift written
    beside the file; without it the translation is the BVH world's, turned into camera axes)."""
    missing = [n for n in body.joint_names if n not in read.names]
    if missing:
        raise OpenHMRError(f"{read.source}: not a BVH of the Anny/CMU skeleton (no joints {missing[:4]}).")
    order = [read.names.index(n) for n in body.joint_names]
    world = read.rotations[:, order]  # global rotations, BVH axes
    parents = list(body.parents)
    m, a = camera_to_bvh(body), ANNY_TO_BVH
    rot = np.empty_like(world)
    rot[:, 0] = m.T @ world[:, 0] @ m
    rot[:, 1:] = a.T @ (world[:, parents[1:]].swapaxes(-1, -2) @ world[:, 1:]) @ a
    shift = np.zeros(3) if shift_cm is None else np.asarray(shift_cm, dtype=np.float64)
    translation = (read.root_positions + shift) / CM_PER_M @ m
    return torch.from_numpy(rot), torch.from_numpy(translation)
