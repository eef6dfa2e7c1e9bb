"""HMR's iterative error feedback (IEF) regressor.

θ0 = mean θ;  θ(k+1) = θ(k) + MLP([f, θ(k)]) for k < iterations; returns [θ1, …, θK].
MLP = FC 1024 -> ReLU -> dropout 0.5 -> FC 1024 -> ReLU -> dropout 0.5 -> FC |θ|, the last
layer Xavier initialised with gain 0.01 so the first predictions stay near the mean. Without
the ReLUs (HMR's TF-slim layers have them by default) the MLP is affine and the three
iterations collapse into one linear map of the feature.
"""

from __future__ import annotations

import torch
from torch import nn


class IEFRegressor(nn.Module):
    """features (B, F) -> list of θ (B, D), one per iteration."""

    def __init__(
        self,
        feature_dim: int,
        mean_theta: torch.Tensor,
        iterations: int = 3,
        hidden: int = 1024,
        dropout: float = 0.5,
        relu: bool = True,
    ):
        super().__init__()
        theta_dim = int(mean_theta.shape[0])
        self.iterations = iterations
        self.relu = relu
        act = nn.ReLU if relu else nn.Identity
        self.register_buffer("mean_theta", mean_theta.clone().float())
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim + theta_dim, hidden),
            act(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            act(),
            nn.Dropout(dropout),
            nn.Linear(hidden, theta_dim),
        )
        nn.init.xavier_uniform_(self.mlp[-1].weight, gain=0.01)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        theta = self.mean_theta.expand(features.shape[0], -1)
        thetas = []
        for _ in range(self.iterations):
            theta = theta + self.mlp(torch.cat([features, theta], dim=1))
            thetas.append(theta)
        return thetas
