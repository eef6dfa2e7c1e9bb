"""Anny backend (default, free, offline): the ``cmu_mb`` rig of PyPI ``anny``.

31 bones named like the CMU MotionBuilder skeleton, 13,718 vertices, and six phenotype
parameters in [0, 1] (gender, age, muscle, weight, height, proportions) as the shape vector.
Anny's frame is z up, -y front, +x the subject's left, metres; its root (Hips) sits at the
origin. Poses use Anny's ``local-ref`` parameterisation: each bone's rotation relative to
its parent, in world-aligned axes, so the identity pose is Anny's rest A-pose.

The first construction builds the rig (about a minute) and Anny caches it in
``~/.cache/anny`` (or ``$ANNY_CACHE_DIR``); later ones load the cache. Nothing is downloaded.
"""

from __future__ import annotations

import torch

from openhmr.body.base import BodyModel, BodyOutput
from openhmr.body.keypoints import convention_names

# Rig bones whose heads are the same landmark as a named keypoint (the rest of the COCO
# points come from Anny's shipped surface regressor). The spine bones are left out: CMU's
# spine segmentation does not match SMPL's spine1..3.
_BONE_LANDMARKS = {
    "pelvis": "Hips",
    "left_collar": "LeftShoulder",
    "right_collar": "RightShoulder",
    "neck": "Neck",
    "head": "Head",
    "left_foot": "LeftToeBase",
    "right_foot": "RightToeBase",
    "left_hand": "LeftFingerBase",
    "right_hand": "RightFingerBase",
}

# Anny frame (z up, -y front) -> camera frame (y down, z forward): x'=x, y'=-z, z'=y.
ANNY_UP_ROTATION = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


def _quiet_warp() -> None:
    """Keep NVIDIA Warp (Anny's skinning kernel) from printing its banner on our stdout."""
    try:
        import warp
    except ImportError:
        return
    warp.config.log_level = getattr(warp, "LOG_WARNING", 30)
    if torch.cuda.is_available():
        return
    # With no GPU, Warp's native start-up prints "Warp CUDA warning: Could not find ... driver"
    # straight to file descriptor 2: noise for a CPU user. Start it with that descriptor muted.
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            warp.init()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class AnnyBody(BodyModel):
    """The Anny ``cmu_mb`` body behind the :class:`BodyModel` interface.

    Keypoints: Anny's COCO regressor (17 body + 6 feet), the bone landmarks above, and
    ``head_top`` (the crown vertex of the rest mesh).

    ``skinning``: Anny's skinning kernel; None lets Anny choose (its NVIDIA Warp kernel when
    ``warp-lang`` imports, about 3x faster on CPU than its dense ``"lbs"``).
    """

    name = "anny"
    hard_shape_bounds = True

    def __init__(self, dtype: torch.dtype = torch.float32, skinning: str | None = None):
        super().__init__()
        _quiet_warp()
        import anny  # deferred: importing anny starts its GPU/JIT stack

        model = anny.Anny(rig="cmu_mb", skinning_method=skinning)
        labels = tuple(model.phenotype_labels)
        if labels != PHENOTYPES:
            raise RuntimeError(f"anny phenotypes changed: {labels}; expected {PHENOTYPES}.")
        self.anny = model.to(dtype)
        regressor = anny.KeypointsRegressor.coco(model)
        coco_names = tuple(regressor.labels)

        bones = tuple(model.bone_labels)
        self.joint_names = bones
        self.parents = tuple(int(p) for p in model.bone_parents)
        self.keypoint_names = coco_names + tuple(_BONE_LANDMARKS) + ("head_top",)
        self.register_buffer("coco_regressor", regressor.regression_weights.to(dtype), persistent=False)
        self.register_buffer(
            "landmark_bones",
            torch.tensor([bones.index(b) for b in _BONE_LANDMARKS.values()], dtype=torch.long),
            persistent=False,
        )
        rest = model(phenotype_kwargs=torch.full((1, 6), 0.5, dtype=model.dtype))["vertices"][0]
        self.register_buffer("head_top_vertex", rest[:, 2].argmax().reshape(1), persistent=False)
        self.register_buffer("faces", model.get_triangular_faces().long(), persistent=False)
        for key, value in {
            "up_rotation": ANNY_UP_ROTATION,
            "shape_low": torch.zeros(6),
            "shape_high": torch.ones(6),
            "mean_shape": torch.full((6,), 0.5),
        }.items():
            self.register_buffer(key, value.to(dtype), persistent=False)
        missing = set(convention_names("coco23")) - set(coco_names)
        if missing:
            raise RuntimeError(f"anny's COCO regressor lacks {sorted(missing)}.")

    SHAPE_POOL = 20_000  # people drawn once from Anny's population model

    def sample_shapes(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """(count, 6) phenotypes drawn from Anny's own population model (age, sex, height,
        weight, muscle and proportions calibrated on WHO growth data): a fixed pool, drawn once
        with seed 0, indexed by ``generator`` so that draws are reproducible."""
        if getattr(self, "_shape_pool", None) is None:
            from anny.shape_distribution import SimpleShapeDistribution

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                _, drawn = SimpleShapeDistribution(self.anny).sample(self.SHAPE_POOL)
            self._shape_pool = torch.stack([drawn[k] for k in PHENOTYPES], dim=1).to(self.shape_low).clamp(0.0, 1.0)
        index = torch.randint(len(self._shape_pool), (count,), generator=generator)
        return self._shape_pool[index]

    def dominant_joints(self) -> torch.Tensor:
        indices, weights = self.anny.vertex_bone_indices, self.anny.vertex_bone_weights
        return indices[torch.arange(indices.shape[0]), weights.argmax(1)].long()

    def _pose_matrices(self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor) -> torch.Tensor:
        """(B, J, 4, 4) Anny's pose parameters; the global orientation acts in camera axes,
        which in Anny's frame is upᵀ R up."""
        up = self.up_rotation
        rotmats = torch.cat([(up.T @ global_rotmat @ up)[:, None], body_rotmat], dim=1)
        pose = torch.zeros(*rotmats.shape[:2], 4, 4, dtype=rotmats.dtype, device=rotmats.device)
        pose[..., :3, :3] = rotmats
        pose[..., 3, 3] = 1.0
        return pose

    def forward_rotmat(
        self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        up = self.up_rotation
        out = self.anny(pose_parameters=self._pose_matrices(global_rotmat, body_rotmat), phenotype_kwargs=shape)
        vertices = out["vertices"] @ up.T
        joints = out["bone_poses"][..., :3, 3] @ up.T
        keypoints = torch.cat(
            [
                torch.einsum("kv,bvd->bkd", self.coco_regressor, vertices),
                joints[:, self.landmark_bones],
                vertices[:, self.head_top_vertex],
            ],
            dim=1,
        )
        return BodyOutput(vertices, joints, keypoints, self.keypoint_names)

    def forward_keypoints_rotmat(
        self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        """The keypoints without the mesh, exactly (to float rounding): a surface keypoint is a
        fixed linear mix of vertices and a skinned vertex a weighted sum of bone transforms,
        so the mix is folded once into per-bone points of the template and of each blend
        shape (:meth:`_folded_keypoints`). Per call that is 24 points per bone instead of
        13,718 vertices: forward + backward 18.5 instead of 28 ms for one person (one thread);
        what remains is Anny's phenotype mixing and kinematics, many small operations."""
        up = self.up_rotation
        anny = self.anny
        # Without gradients, each distinct shape is mixed once: a fit's Jacobian poses ~100
        # copies of one body (the phenotype mixing was a third of the call).
        distinct = None
        if not (torch.is_grad_enabled() and shape.requires_grad):
            shape, distinct = torch.unique(shape, dim=0, return_inverse=True)
        params, phenotype, local, facial = anny.get_tensor_inputs(self._pose_matrices(global_rotmat, body_rotmat), shape, None, None)
        coeffs = anny._get_phenotype_blendshape_coefficients(phenotype, local, facial)  # (U, C), U distinct shapes
        rest_bone_poses = self._rest_bone_poses(coeffs)
        if distinct is not None:
            coeffs, rest_bone_poses = coeffs[distinct], rest_bone_poses[distinct]  # (B, C), (B, J, 4, 4)
        transforms, bone_poses = anny.get_bone_transforms(params, rest_bone_poses)  # (B, J, 4, 4) each
        template, blends, mass = self._folded_keypoints()
        points = template + torch.einsum("bc,ckjd->bkjd", coeffs, blends)  # (B, K, J, 3)
        surface = torch.einsum("bjxy,bkjy->bkx", transforms[..., :3, :3], points) + torch.einsum(
            "bjx,kj->bkx", transforms[..., :3, 3], mass
        )
        surface = surface @ up.T
        joints = bone_poses[..., :3, 3] @ up.T
        count = self.coco_regressor.shape[0]
        keypoints = torch.cat([surface[:, :count], joints[:, self.landmark_bones], surface[:, count:]], dim=1)
        return BodyOutput(None, joints, keypoints, self.keypoint_names)

    def _rest_bone_poses(self, coeffs: torch.Tensor) -> torch.Tensor:
        """(B, J, 4, 4) Anny's rest bone poses for blend-shape coefficients (B, C): its
        ``blender`` rest model without the rest vertices."""
        from anny.skinning.skinning import apply_linear_blendshape
        from anny.utils.kinematics import get_bone_poses

        anny = self.anny
        if anny.bone_orientation != "blender":
            raise NotImplementedError(f"Anny's {anny.bone_orientation!r} bone orientation has no keypoint shortcut here.")
        heads = apply_linear_blendshape(anny.template_bone_heads, anny.bone_heads_blendshapes, coeffs)
        tails = apply_linear_blendshape(anny.template_bone_tails, anny.bone_tails_blendshapes, coeffs)
        poses = get_bone_poses(heads, tails, anny.bone_rolls_rotmat, y_axis=anny.y_axis, degenerate_rotation=anny.degenerate_rotation)
        if anny.root_identity_orientation:
            poses[:, 0, :3, :3] = torch.eye(3, device=poses.device, dtype=poses.dtype)
        return poses

    def _folded_keypoints(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The surface keypoints (the COCO regressor's rows, then the crown vertex) folded into
        the skinning: template (K, J, 3) = Σ_v R[k,v] W[v,j] x_v, blends (C, K, J, 3) the same
        of each blend shape, mass (K, J) = Σ_v R[k,v] W[v,j]. Computed once per device."""
        anny = self.anny
        device, dtype = anny.template_vertices.device, anny.template_vertices.dtype
        cached = getattr(self, "_folded", None)
        if cached is not None and cached[0].device == device and cached[0].dtype == dtype:
            return cached
        vertices = anny.template_vertices.shape[0]
        crown = torch.zeros(1, vertices, dtype=dtype, device=device)
        crown[0, self.head_top_vertex] = 1.0
        mix = torch.cat([self.coco_regressor, crown])  # (K, V)
        weights = torch.zeros(vertices, self.num_joints, dtype=dtype, device=device)
        weights.scatter_add_(1, anny.vertex_bone_indices, anny.vertex_bone_weights)  # (V, J) dense
        with torch.no_grad():
            template = torch.zeros(len(mix), self.num_joints, 3, dtype=dtype, device=device)
            blends = torch.zeros(anny.blendshapes.shape[0], len(mix), self.num_joints, 3, dtype=dtype, device=device)
            for bone in range(self.num_joints):  # only the vertices this bone moves and a keypoint reads
                used = ((weights[:, bone] > 0) & (mix != 0).any(0)).nonzero()[:, 0]
                if len(used):
                    part = mix[:, used] * weights[used, bone]  # (K, n)
                    template[:, bone] = part @ anny.template_vertices[used]
                    blends[:, :, bone] = torch.einsum("kn,cnd->ckd", part, anny.blendshapes[:, used])
            mass = mix @ weights
        self._folded = (template, blends, mass)
        return self._folded

