"""θ, the regressed parameter vector, and its mean (the regressor's starting point).

θ = [camera s, tx, ty | global orientation | body pose (J-1 joints) | shape (S)], each joint
rotation as axis-angle (3, HMR) or 6D (6, SPIN). For SMPL with axis-angle this is HMR's
85-vector: 3 + 24 * 3 + 10.

The regressor works in an unconstrained space; :meth:`ThetaLayout.to_params` maps it to
values that are valid by construction: the camera scale ``s = exp(raw)`` is positive (s <= 0
puts the body behind the camera) and, for a body with hard shape bounds (Anny), the shape is
``low + (high - low) * sigmoid(raw)``. SMPL's betas stay unbounded.
"""

from __future__ import annotations

import dataclasses

import roma
import torch

from openhmr.body.base import BodyModel
from openhmr.geometry import rotations

ROTATION_DIMS = {"axis_angle": 3, "6d": 6}
DEFAULT_CAMERA = (0.9, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class ThetaLayout:
    """Where each part of θ lives, for J joints (root included) and S shape values."""

    num_joints: int
    shape_dim: int
    rotation: str = "axis_angle"
    shape_low: tuple[float, ...] | None = None  # set (with shape_high): shape bounded by a sigmoid
    shape_high: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.rotation not in ROTATION_DIMS:
            raise ValueError(f"rotation must be one of {sorted(ROTATION_DIMS)}, got {self.rotation!r}.")
        if (self.shape_low is None) != (self.shape_high is None):
            raise ValueError("shape_low and shape_high go together.")

    @classmethod
    def for_body(cls, body: BodyModel, rotation: str = "axis_angle", bounded: bool = True) -> ThetaLayout:
        """``bounded``: squash the shape into the body's range when its bounds are hard."""
        if bounded and body.hard_shape_bounds:
            low, high = (tuple(float(v) for v in b) for b in body.shape_bounds)
            return cls(body.num_joints, body.shape_dim, rotation, low, high)
        return cls(body.num_joints, body.shape_dim, rotation)

    @property
    def bounded_shape(self) -> bool:
        return self.shape_low is not None

    def to_params(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw θ (B, D) -> camera [s > 0, tx, ty] (B, 3), rotations (B, J, r), shape (B, S)."""
        raw_camera, rots, raw_shape = self.split(theta)
        # The clamp keeps exp finite; e^±10 is far beyond any real framing.
        camera = torch.cat([raw_camera[:, :1].clamp(-10, 10).exp(), raw_camera[:, 1:]], dim=1)
        shape = raw_shape
        if self.bounded_shape:
            low, high = (torch.tensor(b, dtype=theta.dtype, device=theta.device) for b in (self.shape_low, self.shape_high))
            shape = low + (high - low) * torch.sigmoid(raw_shape)
        return camera, rots, shape

    def from_params(self, camera: torch.Tensor, rots: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_params` (values on a bound move just inside it)."""
        raw_camera = torch.cat([camera[:, :1].clamp(min=1e-6).log(), camera[:, 1:]], dim=1)
        raw_shape = shape
        if self.bounded_shape:
            low, high = (torch.tensor(b, dtype=shape.dtype, device=shape.device) for b in (self.shape_low, self.shape_high))
            raw_shape = torch.logit(((shape - low) / (high - low)).clamp(1e-4, 1 - 1e-4))
        return self.join(raw_camera, rots, raw_shape)

    @property
    def rot_dim(self) -> int:
        return ROTATION_DIMS[self.rotation]

    @property
    def dim(self) -> int:
        return 3 + self.num_joints * self.rot_dim + self.shape_dim

    def split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw θ (B, D) -> its raw camera (B, 3), rotations (B, J, r) and shape (B, S) parts."""
        rot_end = 3 + self.num_joints * self.rot_dim
        rots = theta[:, 3:rot_end].unflatten(1, (self.num_joints, self.rot_dim))
        return theta[:, :3], rots, theta[:, rot_end:]

    def join(self, camera: torch.Tensor, rots: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`split`."""
        return torch.cat([camera, rots.flatten(1), shape], dim=1)

    def rotmats(self, rots: torch.Tensor) -> torch.Tensor:
        """Rotations (B, J, r) in this layout's representation -> (B, J, 3, 3)."""
        if self.rotation == "axis_angle":
            return rotations.axis_angle_to_matrix(rots)
        return rotations.sixd_to_matrix(rots)

    def encode(self, rotmats: torch.Tensor) -> torch.Tensor:
        """(B, J, 3, 3) -> (B, J, r)."""
        if self.rotation == "axis_angle":
            return rotations.matrix_to_axis_angle(rotmats)
        return rotations.matrix_to_sixd(rotmats)


def mean_body_pose(poses: torch.Tensor) -> torch.Tensor:
    """Mean rotation of each joint over a pose bank: axis-angle (N, J-1, 3) -> (J-1, 3).

    The mean is the rotation nearest (Frobenius) to the average matrix, via roma.
    """
    average = rotations.axis_angle_to_matrix(poses.double()).mean(dim=0)
    return rotations.matrix_to_axis_angle(roma.special_procrustes(average)).to(poses.dtype)


@dataclasses.dataclass
class MeanParams:
    """The starting θ: body pose (J-1, 3) axis-angle, shape (S,), camera (3,).

    Default: the body's rest pose, its mean shape, and HMR's camera [0.9, 0, 0]; the global
    orientation is always identity (upright, facing the camera).
    """

    body_pose: torch.Tensor
    shape: torch.Tensor
    camera: torch.Tensor

    @classmethod
    def default(cls, body: BodyModel) -> MeanParams:
        _, pose, shape = body.rest_parameters(1)
        return cls(pose[0].float(), shape[0].float(), torch.tensor(DEFAULT_CAMERA))

    @classmethod
    def from_pose_bank(cls, body: BodyModel, poses: torch.Tensor) -> MeanParams:
        """Mean mocap pose of a bank (N, J-1, 3), the body's mean shape, HMR's camera."""
        default = cls.default(body)
        return cls(mean_body_pose(poses).float(), default.shape, default.camera)

    def theta(self, layout: ThetaLayout) -> torch.Tensor:
        """The mean as a raw θ vector (D,) in ``layout`` (see :meth:`ThetaLayout.to_params`)."""
        rotvecs = torch.cat([self.body_pose.new_zeros(1, 3), self.body_pose])  # identity global orientation
        rots = layout.encode(rotations.axis_angle_to_matrix(rotvecs)[None])
        return layout.from_params(self.camera[None], rots, self.shape[None])[0]
