"""HMR's factorised pose-and-shape discriminator (least-squares GAN).

Input: the J-1 non-root joint rotations as matrices (B, J-1, 3, 3) and the shape (B, S).
- per joint: a 1x1 convolution 9 -> 32 -> 32 shared by all joints, then one linear head per
  joint: J-1 scores;
- full pose: the 32 (J-1) shared features -> FC 1024 -> FC 1024 -> 1;
- shape: S -> 10 -> 5 -> 1.
ReLU between layers, none on the outputs; scores concatenated: (B, J+1).
"""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    def __init__(self, num_body_joints: int, shape_dim: int, channels: int = 32, hidden: int = 1024):
        super().__init__()
        self.num_body_joints = num_body_joints
        self.joint_features = nn.Sequential(
            nn.Conv1d(9, channels, kernel_size=1), nn.ReLU(), nn.Conv1d(channels, channels, kernel_size=1), nn.ReLU()
        )
        # One independent linear head per joint, stored as a (J-1, C) weight.
        self.joint_head_weight = nn.Parameter(torch.empty(num_body_joints, channels))
        self.joint_head_bias = nn.Parameter(torch.zeros(num_body_joints))
        nn.init.kaiming_uniform_(self.joint_head_weight, a=5**0.5)
        self.full_pose = nn.Sequential(
            nn.Linear(channels * num_body_joints, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        self.shape = nn.Sequential(nn.Linear(shape_dim, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1))

    @property
    def num_outputs(self) -> int:
        return self.num_body_joints + 2

    def forward(self, body_rotmats: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """body_rotmats (B, J-1, 3, 3), shape (B, S) -> scores (B, J+1)."""
        features = self.joint_features(body_rotmats.flatten(2).transpose(1, 2))  # (B, C, J-1)
        per_joint = torch.einsum("bcj,jc->bj", features, self.joint_head_weight) + self.joint_head_bias
        full = self.full_pose(features.transpose(1, 2).flatten(1))
        return torch.cat([per_joint, full, self.shape(shape)], dim=1)
