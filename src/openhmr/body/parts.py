"""Body parts for part masks: each vertex belongs to the part of the bone that moves it most
(the body model's skinning weights), each face to the part of its first vertex.

Mask files hold one byte per pixel: 0 background, then 1 + the part's index in PART_NAMES;
anything above 0 is the person.
"""

from __future__ import annotations

import numpy as np

PART_NAMES = ("head", "torso", "arms", "legs")

_PART_OF_BONE = {  # Anny's cmu_mb bones; anything unlisted is torso
    "Neck": "head", "Neck1": "head", "Head": "head",
    "LeftArm": "arms", "LeftForeArm": "arms", "LeftHand": "arms", "LThumb": "arms", "LeftFingerBase": "arms",
    "LeftHandFinger1": "arms",
    "LeftUpLeg": "legs", "LeftLeg": "legs", "LeftFoot": "legs", "LeftToeBase": "legs",
}  # fmt: skip
_SMPL_PART_OF_JOINT = {
    "neck": "head", "head": "head", "left_shoulder": "arms", "left_elbow": "arms", "left_wrist": "arms",
    "left_hand": "arms", "left_hip": "legs", "left_knee": "legs", "left_ankle": "legs", "left_foot": "legs",
}  # fmt: skip


def _part_of(name: str) -> str:
    from openhmr.body.base import mirror_joint_name

    for table in (_PART_OF_BONE, _SMPL_PART_OF_JOINT):
        if name in table:
            return table[name]
        if mirror_joint_name(name) in table:
            return table[mirror_joint_name(name)]
    return "torso"


def vertex_parts(body) -> np.ndarray:
    """(V,) int: each vertex's part index (into PART_NAMES), from the dominant skinning weight."""
    dominant = body.dominant_joints().cpu().numpy()
    parts = np.array([PART_NAMES.index(_part_of(n)) for n in body.joint_names])
    return parts[dominant]


def face_parts(body) -> np.ndarray:
    """(F,) int: each face's part index."""
    return vertex_parts(body)[body.faces.cpu().numpy()[:, 0]]
