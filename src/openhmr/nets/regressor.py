"""HMR's iterative error feedback (IEF) regressor.

θ0 = mean θ;  θ(k+1) = θ(k) + MLP([f, θ(k)]) for k < iterations; returns [θ1, …, θK].
MLP = FC 1024 -> ReLU -> dropout 0.5 -> FC 1024 -> ReLU -> dropout 0.5 -> FC |θ|, the last
layer Xavier initialised with gain 0.01 so the first predictions stay near the mean. Without
the ReLUs (HMR's TF-slim layers have them by default) the MLP is affine and the three
iterations collapse into one linear map of the feature.

With ``feedback_dim`` > 0 each iteration also sees a vector ``feedback(θ(k))`` of that size
(for HMR: where the current body's keypoints land against the encoder's own 2D landmarks), so
the MLP corrects a visible error instead of guessing it from the features alone: a learned
descent step, as in PyMAF's mesh-aligned feedback or learned gradient descent fitting.
"""

from __future__ import annotations

from collections.abc import Callable

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
        feedback_dim: int = 0,
    ):
        super().__init__()
        theta_dim = int(mean_theta.shape[0])
        self.iterations = iterations
        self.feedback_dim = feedback_dim
        self.register_buffer("mean_theta", mean_theta.clone().float())
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim + theta_dim + feedback_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, theta_dim),
        )
        nn.init.xavier_uniform_(self.mlp[-1].weight, gain=0.01)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(
        self, features: torch.Tensor, feedback: Callable[[torch.Tensor, int], torch.Tensor] | None = None
    ) -> list[torch.Tensor]:
        """features (B, F) -> [θ1 … θK] (B, D); ``feedback``: (θ (B, D), iteration) ->
        (B, feedback_dim), required when the regressor was built with ``feedback_dim``."""
        if self.feedback_dim and feedback is None:
            raise ValueError("This regressor was built with feedback: pass feedback(theta).")
        theta = self.mean_theta.expand(features.shape[0], -1)
        thetas = []
        for k in range(self.iterations):
            inputs = [features, theta, feedback(theta, k)] if self.feedback_dim else [features, theta]
            theta = theta + self.mlp(torch.cat(inputs, dim=1))
            thetas.append(theta)
        return thetas
