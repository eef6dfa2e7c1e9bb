"""Retarget CMU motion capture onto the Anny ``cmu_mb`` rig (see shared notes on retargeting).

Recipe: with C taking CMU axes (y up, +z front) to Anny's (z up, -y front), Anny's world
rotation of bone k is GA_k = C G_k Cᵀ Q_k, where G_k is the matching source joint's global
rotation and Q_k the smallest rotation taking Anny's rest bone direction onto the source's
rest bone vector (identity for the pelvis, hip joints and collars, whose rest offsets differ
too much between the skeletons to align). Anny's ``local-ref`` pose of bone k is then
GA_parentᵀ GA_k, and the root's GA_0. Q depends on the body's proportions: it is computed
for the phenotype given (default: the mean body).
"""

from __future__ import annotations

import numpy as np
import roma
import torch

from openhmr.body.anny_body import AnnyBody
from openhmr.errors import OpenHMRError
from openhmr.mocap.asf_amc import Motion

CMU_TO_ANNY_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

_LEFT = {  # ASF name: (Anny bone, CMU-131 BVH name); the right side mirrors it.
    "lhipjoint": ("LHipJoint", "LHipJoint"), "lfemur": ("LeftUpLeg", "LeftHip"),
    "ltibia": ("LeftLeg", "LeftKnee"), "lfoot": ("LeftFoot", "LeftAnkle"),
    "ltoes": ("LeftToeBase", "LeftToe"), "lclavicle": ("LeftShoulder", "LeftCollar"),
    "lhumerus": ("LeftArm", "LeftShoulder"), "lradius": ("LeftForeArm", "LeftElbow"),
    "lwrist": ("LeftHand", "LeftWrist"), "lhand": ("LeftFingerBase", "lhand"),
    "lfingers": ("LeftHandFinger1", "LFingers"), "lthumb": ("LThumb", "LThumb"),
}  # fmt: skip
_CENTRE = {
    "root": ("Hips", "Hips"), "lowerback": ("LowerBack", "lowerback"), "upperback": ("Spine", "Chest"),
    "thorax": ("Spine1", "Chest2"), "lowerneck": ("Neck", "lowerneck"), "upperneck": ("Neck1", "Neck"),
    "head": ("Head", "Head"),
}  # fmt: skip


def _right(name: str) -> str:
    for a, b in (("Left", "Right"), ("LHip", "RHip"), ("LFing", "RFing"), ("LThumb", "RThumb"), ("lhand", "rhand")):
        if name.startswith(a):
            return b + name[len(a):]
    return "r" + name[1:]  # ASF names: l* -> r*


_ROWS = list(_CENTRE.items()) + list(_LEFT.items())
_ROWS += [(_right(asf), (_right(anny), _right(bvh))) for asf, (anny, bvh) in _LEFT.items()]

# Source naming styles -> {source joint: Anny bone}. CMU's BVH conversions name the same joints
# in two styles; "LeftShoulder" is the humerus in one and the collar in the other, so a file's
# style is recognised as a whole, never joint by joint.
NAME_TABLES = {
    "asf": {asf: anny for asf, (anny, _) in _ROWS},
    "cmu-bvh": {bvh: anny for _, (anny, bvh) in _ROWS},
    "motionbuilder": {anny: anny for _, (anny, _) in _ROWS},
}
_STYLE_MARKERS = {"asf": "lfemur", "cmu-bvh": "LeftHip", "motionbuilder": "LeftUpLeg"}

# Anny bones kept at Q = I (see module docstring), and the child that defines a bone's
# direction where a bone has several.
_NO_REST_OFFSET = {"Hips", "LHipJoint", "RHipJoint", "LeftShoulder", "RightShoulder"}
_MAIN_CHILD = {"Spine1": "Neck", "LeftHand": "LeftFingerBase", "RightHand": "RightFingerBase"}


class UnknownJointsError(OpenHMRError):
    """The motion names joints that no table maps onto the body."""


def name_table(names: list[str]) -> dict[str, str]:
    """The table of the naming style these source joints use."""
    for style, marker in _STYLE_MARKERS.items():
        if marker in names:
            table = NAME_TABLES[style]
            unknown = [n for n in names if n not in table]
            if unknown:
                raise UnknownJointsError(f"unknown {style} joints {unknown}")
            return table
    raise UnknownJointsError(f"unknown joints: no CMU naming style recognised in {names[:6]}")


def smallest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation (3, 3) of least angle taking direction ``a`` onto direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis), np.dot(a, b))
    if np.linalg.norm(axis) < 1e-12:
        if np.dot(a, b) > 0:
            return np.eye(3)
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    rotvec = torch.as_tensor(axis / np.linalg.norm(axis) * angle)
    return roma.rotvec_to_rotmat(rotvec).numpy()


class AnnyRetargeter:
    """Maps a :class:`Motion` onto the Anny body's joints, for one phenotype (S,)."""

    def __init__(self, body: AnnyBody, phenotype: torch.Tensor | None = None):
        self.body = body
        phenotype = body.mean_shape if phenotype is None else phenotype
        with torch.no_grad():
            rest = body.anny(phenotype_kwargs=phenotype.reshape(1, -1).to(body.mean_shape.dtype))
        self.heads = rest["rest_bone_heads"][0].double().numpy()
        self.tails = rest["rest_bone_tails"][0].double().numpy()
        self.bones = list(body.joint_names)
        self.parents = list(body.parents)

    def anny_direction(self, k: int) -> np.ndarray:
        """Anny's rest bone direction: head -> main child's head (the tail for leaves)."""
        child = self.direction_child(k)
        return (self.heads[child] if child is not None else self.tails[k]) - self.heads[k]

    def direction_child(self, k: int) -> int | None:
        name = self.bones[k]
        if name in _MAIN_CHILD:
            return self.bones.index(_MAIN_CHILD[name])
        kids = [j for j, p in enumerate(self.parents) if p == k]
        return kids[0] if len(kids) == 1 else None

    def source_index(self, motion: Motion) -> list[int]:
        """For each Anny bone, the index of its source joint in ``motion``."""
        table = name_table(motion.names)
        by_bone = {table[n]: i for i, n in enumerate(motion.names)}
        missing = [b for b in self.bones if b not in by_bone]
        if missing:
            raise UnknownJointsError(f"no source joint for Anny bones {missing}")
        return [by_bone[b] for b in self.bones]

    def rest_offsets(self, motion: Motion, src: list[int]) -> np.ndarray:
        """Q_k for every Anny bone: (K, 3, 3)."""
        q = np.tile(np.eye(3), (len(self.bones), 1, 1))
        for k, name in enumerate(self.bones):
            if name in _NO_REST_OFFSET:
                continue
            child = self.direction_child(k)
            source_vec = motion.rest_offsets[src[child]] if child is not None else motion.end_offsets[src[k]]
            anny_vec = self.anny_direction(k)
            if np.linalg.norm(source_vec) < 1e-6 or np.linalg.norm(anny_vec) < 1e-6:
                continue  # a zero-length segment (CMU BVH's Chest2) has no direction to match
            q[k] = smallest_rotation(anny_vec, CMU_TO_ANNY_AXES @ source_vec)
        return q

    def world_rotations(self, motion: Motion) -> np.ndarray:
        """GA (T, K, 3, 3): Anny's world bone rotations in Anny's axes."""
        src = self.source_index(motion)
        c = CMU_TO_ANNY_AXES
        return c @ motion.rotations[:, src] @ c.T @ self.rest_offsets(motion, src)

    def __call__(self, motion: Motion) -> tuple[torch.Tensor, torch.Tensor]:
        """Global orientation (T, 3) in camera axes and body pose (T, K-1, 3) axis-angle."""
        ga = torch.as_tensor(self.world_rotations(motion))
        parents = torch.tensor(self.parents[1:])
        local = ga[:, parents].transpose(-1, -2) @ ga[:, 1:]
        up = self.body.up_rotation.double()
        global_cam = up @ ga[:, 0] @ up.T
        return roma.rotmat_to_rotvec(global_cam).float(), roma.rotmat_to_rotvec(local).float()
