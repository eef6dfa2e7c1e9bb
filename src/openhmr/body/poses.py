"""A few named poses for demos and smoke checks, written once for every body model.

Angles are axis-angle in degrees about the *camera* axes of the upright body (x the subject's
left, y down, z the subject's back), per SMPL-named joint; each model maps them onto its own
joints and frame. ``walk`` is a mid-stride pose like a frame of a CMU walking clip.
"""

from __future__ import annotations

import math

import torch

from openhmr.body.base import BodyModel

# Anny cmu_mb bone driving each SMPL-named joint (the rest have no single counterpart).
ANNY_BONE = {
    "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg", "left_knee": "LeftLeg",
    "right_knee": "RightLeg", "left_ankle": "LeftFoot", "right_ankle": "RightFoot",
    "spine2": "Spine", "neck": "Neck", "head": "Head",
    "left_collar": "LeftShoulder", "right_collar": "RightShoulder",
    "left_shoulder": "LeftArm", "right_shoulder": "RightArm",
    "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm",
}  # fmt: skip

POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "rest": {},
    "walk": {
        "left_hip": (-28.0, 0.0, 0.0),
        "left_knee": (12.0, 0.0, 0.0),
        "left_ankle": (-8.0, 0.0, 0.0),
        "right_hip": (18.0, 0.0, 0.0),
        "right_knee": (40.0, 0.0, 0.0),
        "right_ankle": (12.0, 0.0, 0.0),
        "spine2": (0.0, 8.0, 0.0),
        "head": (-6.0, -6.0, 0.0),
        "left_shoulder": (22.0, 0.0, 35.0),
        "left_elbow": (-12.0, 10.0, 0.0),
        "right_shoulder": (-25.0, 0.0, -35.0),
        "right_elbow": (-22.0, -19.0, 0.0),
    },
}


def named_pose(body: BodyModel, name: str) -> torch.Tensor:
    """Body pose (1, J-1, 3) axis-angle in ``body``'s own joints and frame."""
    try:
        joints = POSES[name]
    except KeyError:
        raise ValueError(f"Unknown pose {name!r}; known: {', '.join(POSES)}.") from None
    up = body.up_rotation
    pose = torch.zeros(1, body.num_body_joints, 3, dtype=up.dtype)
    for joint, degrees in joints.items():
        model_joint = ANNY_BONE[joint] if body.name == "anny" else joint
        index = body.joint_names.index(model_joint)
        camera_axis = torch.tensor(degrees, dtype=up.dtype) * (math.pi / 180)
        pose[0, index - 1] = up.T @ camera_axis  # camera axes -> model axes
    return pose
