"""SMPL backend: the user's own SMPL file, skinned by openhmr's LBS (no chumpy, no smplx).

Model frame: y up, +z front, +x the subject's left. The camera frame flips y and z.
"""

from __future__ import annotations

from pathlib import Path

import torch

from openhmr.body import lbs
from openhmr.body.base import BodyModel, BodyOutput
from openhmr.body.keypoints import convention_names
from openhmr.body.smpl_file import SMPL_PARENTS, load_smpl_arrays

# Surface landmarks on the SMPL mesh (vertex indices of its fixed 6,890-vertex topology).
SMPL_LANDMARK_VERTICES = {
    "nose": 332,
    "left_eye": 2800,
    "right_eye": 6260,
    "left_ear": 583,
    "right_ear": 4071,
    "left_big_toe": 3216,
    "left_small_toe": 3226,
    "left_heel": 3387,
    "right_big_toe": 6617,
    "right_small_toe": 6624,
    "right_heel": 6787,
}

# Model frame (y up, z front) -> camera frame (y down, z forward into the scene).
SMPL_UP_ROTATION = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


class SMPLBody(BodyModel):
    """SMPL with ``num_betas`` shape coefficients; joints in ``smpl24`` order.

    Keypoints: the 24 joints plus the face and foot landmarks of ``SMPL_LANDMARK_VERTICES``.
    Shape bounds are +-3 standard deviations (betas are unit-variance by construction).
    """

    name = "smpl"

    def __init__(self, path: str | Path, num_betas: int = 10, dtype: torch.dtype = torch.float32):
        super().__init__()
        arrays = load_smpl_arrays(path, num_betas=num_betas)
        self.path = str(path)
        self.joint_names = convention_names("smpl24")
        self.parents = SMPL_PARENTS  # load_smpl_arrays refuses any other tree
        self.keypoint_names = self.joint_names + tuple(SMPL_LANDMARK_VERTICES)
        self.levels = lbs.depth_levels(self.parents)

        f64 = {k: torch.from_numpy(v) for k, v in arrays.items()}
        v_template, shapedirs = f64["v_template"], f64["shapedirs"]
        posedirs, j_reg = f64["posedirs"], f64["J_regressor"]
        num_v, s = v_template.shape[0], shapedirs.shape[2]
        # Regress joints from the blend shapes once, in float64, instead of from every mesh.
        joint_template = j_reg @ v_template  # (J, 3)
        joint_shapedirs = torch.einsum("jv,vcs->jcs", j_reg, shapedirs)  # (J, 3, S)
        # Shape and pose correctives share one (S + P, V * 3) matrix: one product per call.
        blend_dirs = torch.cat(
            [shapedirs.permute(2, 0, 1).reshape(s, num_v * 3), posedirs.permute(2, 0, 1).reshape(-1, num_v * 3)]
        )
        buffers = {
            "v_template_column": v_template.reshape(-1, 1),
            "blend_dirs_t": blend_dirs.T,
            "joint_template": joint_template,
            "joint_shapedirs": joint_shapedirs.permute(2, 0, 1).reshape(s, -1),
            "skin_weights": f64["weights"],
            "up_rotation": SMPL_UP_ROTATION.double(),
            "shape_low": torch.full((s,), -3.0, dtype=torch.float64),
            "shape_high": torch.full((s,), 3.0, dtype=torch.float64),
            "mean_shape": torch.zeros(s, dtype=torch.float64),
        }
        for key, value in buffers.items():
            self.register_buffer(key, value.to(dtype).contiguous(), persistent=False)
        self.register_buffer("faces", f64["f"].long(), persistent=False)
        self.register_buffer(
            "landmark_vertices",
            torch.tensor(list(SMPL_LANDMARK_VERTICES.values()), dtype=torch.long),
            persistent=False,
        )

    def dominant_joints(self) -> torch.Tensor:
        return self.skin_weights.argmax(1)

    def forward_rotmat(
        self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        up = self.up_rotation
        # The global orientation acts in camera axes; in the model frame it is upᵀ R up.
        root = up.T @ global_rotmat @ up
        rotmats = torch.cat([root[:, None], body_rotmat], dim=1)  # (B, J, 3, 3)
        coefficients = torch.cat([shape, lbs.pose_features(rotmats)], dim=1)
        v_posed = lbs.blend_shapes_vertex_major(coefficients, self.v_template_column, self.blend_dirs_t)
        rest_joints = lbs.blend_shapes(shape, self.joint_template, self.joint_shapedirs)
        world_rot, world_pos = lbs.forward_kinematics(rotmats, rest_joints, self.parents, self.levels)
        # Folding the camera rotation into the joint transforms costs J products, not V.
        transforms = up @ lbs.skinning_transforms(world_rot, world_pos, rest_joints)
        vertices = lbs.skin(v_posed, self.skin_weights, transforms)
        joints = world_pos @ up.T
        keypoints = torch.cat([joints, vertices[:, self.landmark_vertices]], dim=1)
        return BodyOutput(vertices, joints, keypoints, self.keypoint_names)
