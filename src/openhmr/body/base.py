"""The body-model interface shared by every backend (Anny, SMPL).

The network, losses, discriminator and outputs use only what is declared here and never ask
which backend they hold.

Frames: outputs are in the camera frame (x right, y down, z forward, metres). Each backend
carries ``up_rotation``, the fixed rotation from its own model frame into that camera frame,
chosen so that an identity global orientation stands upright and faces the camera. The
global orientation then rotates the upright body about its root joint, in camera axes.
"""

from __future__ import annotations

import abc
import dataclasses
import re

import roma
import torch

from openhmr.body import keypoints as kp

# Reflection of the camera frame's x axis: a horizontally flipped image.
CAMERA_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))


@dataclasses.dataclass
class BodyOutput:
    """What a body model returns for a batch of B bodies.

    vertices:  (B, V, 3) metres, camera frame; None when only keypoints were asked for.
    joints:    (B, J, 3) the kinematic joints, in ``BodyModel.joint_names`` order.
    keypoints: (B, K, 3) the model's landmarks, in ``keypoint_names`` order.
    """

    vertices: torch.Tensor | None
    joints: torch.Tensor
    keypoints: torch.Tensor
    keypoint_names: tuple[str, ...]

    def keypoints_as(self, convention: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints in a named convention: ``(B, K, 3)`` and ``mask (K,)`` of those present.

        Landmarks this model does not define are zero and masked out, never guessed.
        """
        return kp.convert(self.keypoints, self.keypoint_names, convention)


_SIDE_PATTERNS = (
    (re.compile(r"^left_"), "right_"),
    (re.compile(r"^right_"), "left_"),
    (re.compile(r"^Left"), "Right"),
    (re.compile(r"^Right"), "Left"),
    (re.compile(r"^L(?=[A-Z])"), "R"),
    (re.compile(r"^R(?=[A-Z])"), "L"),
)


def mirror_joint_name(name: str) -> str:
    """``left_hip``/``LeftUpLeg``/``LHipJoint`` -> their right-side twin (and back)."""
    for pattern, replacement in _SIDE_PATTERNS:
        if pattern.search(name):
            return pattern.sub(replacement, name, count=1)
    return name


def name_flip_permutation(names: tuple[str, ...]) -> list[int]:
    """Permutation ``p`` such that ``x[:, p]`` swaps every left item with its right twin."""
    index = {n: i for i, n in enumerate(names)}
    try:
        return [index[mirror_joint_name(n)] for n in names]
    except KeyError as e:
        raise ValueError(f"Joint {e.args[0]!r} has no mirror twin in {names}.") from None


class BodyModel(torch.nn.Module, abc.ABC):
    """A parametric body: (global orientation, body pose, shape) -> :class:`BodyOutput`.

    Subclasses set: ``name``, ``joint_names``, ``parents``, ``keypoint_names``, the buffers
    ``faces (F, 3)``, ``up_rotation (3, 3)``, ``shape_low (S,)``, ``shape_high (S,)``,
    ``mean_shape (S,)``, and implement :meth:`forward_rotmat`.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    keypoint_names: tuple[str, ...]
    faces: torch.Tensor
    up_rotation: torch.Tensor
    shape_low: torch.Tensor
    shape_high: torch.Tensor
    mean_shape: torch.Tensor
    # True when the model is undefined outside [shape_low, shape_high] (Anny's phenotypes):
    # networks then bound their shape output by construction. SMPL's betas are soft limits.
    hard_shape_bounds: bool = False

    # ----- sizes and tables -------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_body_joints(self) -> int:
        """Joints in ``body_pose`` (all but the root)."""
        return len(self.joint_names) - 1

    @property
    def shape_dim(self) -> int:
        return int(self.mean_shape.shape[0])

    @property
    def shape_bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower and upper bounds ``(S,)`` of a plausible shape vector."""
        return self.shape_low, self.shape_high

    def sample_shapes(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """(count, S) shapes of real people, as the discriminator's "real" samples: by default
        standard normal coefficients (SMPL's betas are PCA units of real scans), clipped to the
        bounds. Models with a population model of their own override this."""
        shapes = torch.randn(count, self.shape_dim, generator=generator, dtype=self.shape_low.dtype)
        return shapes.clamp(self.shape_low, self.shape_high)

    @property
    def joint_flip_permutation(self) -> list[int]:
        return name_flip_permutation(self.joint_names)

    @property
    def keypoint_flip_permutation(self) -> list[int]:
        return kp.flip_permutation(self.keypoint_names)

    @abc.abstractmethod
    def dominant_joints(self) -> torch.Tensor:
        """(V,) long: for each vertex, the joint whose skinning weight on it is largest."""

    @property
    def model_mirror(self) -> torch.Tensor:
        """(3, 3) the camera-x reflection expressed in the model frame."""
        up = self.up_rotation
        return up.T @ CAMERA_MIRROR.to(up) @ up

    def rest_parameters(
        self, batch_size: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Identity orientation and pose, mean shape: ``(B, 3)``, ``(B, J-1, 3)``, ``(B, S)``."""
        like = self.mean_shape
        return (
            like.new_zeros(batch_size, 3),
            like.new_zeros(batch_size, self.num_body_joints, 3),
            self.mean_shape.expand(batch_size, -1).clone(),
        )

    # ----- mirroring ------------------------------------------------------------------------
    def mirror_pose(
        self, global_orient: torch.Tensor, body_pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose of the mirror image (camera x flipped): axis-angle ``(B, 3)``, ``(B, J-1, 3)``.

        Each rotation R becomes P R P with P the reflection (camera frame for the global
        orientation, model frame for body joints), and left/right joints trade places. For
        an axis-angle vector a this is ``-P a``.
        """
        cam = CAMERA_MIRROR.to(global_orient)
        mod = self.model_mirror.to(body_pose)
        perm = self.joint_flip_permutation
        # Joint 0 is the root; body_pose holds joints 1..J-1.
        body_perm = [p - 1 for p in perm[1:]]
        mirrored_global = -(global_orient @ cam.T)
        mirrored_body = -(body_pose[:, body_perm] @ mod.T)
        return mirrored_global, mirrored_body

    def mirror_rotmats(self, rotmats: torch.Tensor) -> torch.Tensor:
        """:meth:`mirror_pose` on rotation matrices ``(B, J, 3, 3)``, global orientation first:
        each R becomes P R P (P the reflection; P = Pᵀ = P⁻¹), left and right joints trade places."""
        cam = CAMERA_MIRROR.to(rotmats)
        mod = self.model_mirror.to(rotmats)
        mirrored_global = cam @ rotmats[:, 0] @ cam
        mirrored_body = mod @ rotmats[:, 1:][:, [p - 1 for p in self.joint_flip_permutation[1:]]] @ mod
        return torch.cat([mirrored_global[:, None], mirrored_body], dim=1)

    # ----- evaluation -------------------------------------------------------------------------
    def forward(
        self,
        global_orient: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        shape: torch.Tensor | None = None,
        vertices: bool = True,
    ) -> BodyOutput:
        """Pose and shape the body.

        global_orient: (B, 3) axis-angle or (B, 3, 3) rotation matrix, in camera axes.
        body_pose:     (B, J-1, 3) axis-angle or (B, J-1, 3, 3), local joint rotations.
        shape:         (B, S).
        Missing arguments take the rest values. ``vertices=False``: joints and keypoints only
        (the same values; faster where the model has a shortcut, e.g. fitting to keypoints).
        """
        batch = next(
            (t.shape[0] for t in (global_orient, body_pose, shape) if t is not None), 1
        )
        rest_go, rest_bp, rest_shape = self.rest_parameters(batch)
        global_orient = rest_go if global_orient is None else global_orient
        body_pose = rest_bp if body_pose is None else body_pose
        shape = rest_shape if shape is None else shape
        dtype = self.mean_shape.dtype
        # In the body's own precision even inside an autocast region (mixed-precision training).
        with torch.autocast(shape.device.type, enabled=False):
            return (self.forward_rotmat if vertices else self.forward_keypoints_rotmat)(
                _as_rotmat(global_orient.to(dtype), expected=(batch,), what="global_orient"),
                _as_rotmat(
                    body_pose.to(dtype), expected=(batch, self.num_body_joints), what="body_pose"
                ),
                _check_shape(shape.to(dtype), (batch, self.shape_dim), "shape"),
            )

    def forward_keypoints_rotmat(
        self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        """:meth:`forward_rotmat`'s joints and keypoints; ``vertices`` may be None. Models with
        a cheaper way to their keypoints than the whole mesh override this."""
        return self.forward_rotmat(global_rotmat, body_rotmat, shape)

    @abc.abstractmethod
    def forward_rotmat(
        self, global_rotmat: torch.Tensor, body_rotmat: torch.Tensor, shape: torch.Tensor
    ) -> BodyOutput:
        """global_rotmat (B, 3, 3) camera axes, body_rotmat (B, J-1, 3, 3), shape (B, S)."""


def _check_shape(t: torch.Tensor, expected: tuple[int, ...], what: str) -> torch.Tensor:
    if tuple(t.shape) != expected:
        raise ValueError(f"{what} must have shape {expected}, got {tuple(t.shape)}.")
    return t


def _as_rotmat(t: torch.Tensor, expected: tuple[int, ...], what: str) -> torch.Tensor:
    """Axis-angle ``(*expected, 3)`` or matrices ``(*expected, 3, 3)`` -> matrices."""
    if tuple(t.shape) == (*expected, 3, 3):
        return t
    if tuple(t.shape) == (*expected, 3):
        return roma.rotvec_to_rotmat(t)
    raise ValueError(
        f"{what} must have shape {(*expected, 3)} (axis-angle) or {(*expected, 3, 3)} "
        f"(rotation matrices), got {tuple(t.shape)}."
    )
