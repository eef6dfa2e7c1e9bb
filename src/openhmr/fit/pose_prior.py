"""A pose prior learnt from a mocap bank: a Gaussian mixture over body poses (SMPLify's 8
Gaussians, max-mixture form) and the bending direction of knees and elbows.

The mixture lives on axis-angle body poses flattened to ``D = (J-1) * 3`` values. Knees and
elbows are hinges: the bank tells each one's main rotation axis and which way it bends, and
bending the other way (hyperextension) is penalised. Fitted by scikit-learn, stored as
safetensors (arrays only; nothing in the file executes).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from openhmr.errors import OpenHMRError
from openhmr.io import atomic_path

FORMAT = "openhmr-pose-prior-1"
# Knees and elbows under each body model's names (Anny's CMU rig, SMPL).
# Every covariance gets at least (0.1 rad)² per value: joints that never move in mocap (fingers,
# toes) would otherwise make the prior too stiff to leave wherever the network put them.
REG_COVAR = 1e-2
HINGE_JOINTS = ("LeftLeg", "RightLeg", "LeftForeArm", "RightForeArm", "left_knee", "right_knee", "left_elbow", "right_elbow")


@dataclasses.dataclass
class PosePrior:
    """means (C, D), precisions (C, D, D), log_weights (C,) with the Gaussian's normaliser folded
    in; hinge_index (H,) body-pose joints (0 = first non-root joint) bending about hinge_axes (H, 3)."""

    body_model: str
    joint_names: tuple[str, ...]
    means: torch.Tensor
    precisions: torch.Tensor
    log_weights: torch.Tensor
    hinge_index: torch.Tensor
    hinge_axes: torch.Tensor

    def nll(self, body_pose: torch.Tensor) -> torch.Tensor:
        """body_pose (B, J-1, 3) axis-angle -> (B,) negative log-likelihood of the nearest
        component, offset so that the best component's mean scores 0."""
        return self.nll_residuals(body_pose).square().sum(-1)

    def nll_residuals(self, body_pose: torch.Tensor) -> torch.Tensor:
        """(B, D + 1) values whose squares sum to :meth:`nll`: the nearest component's whitened
        offset Lᵀx / √2 (precision = L Lᵀ) and √(its weight's shortfall from the best's), so a
        least-squares optimiser can take the prior as it is."""
        x = body_pose.flatten(1)[:, None] - self.means.to(body_pose)  # (B, C, D)
        whitened = torch.einsum("bcd,cde->bce", x, self._precision_factors().to(x))  # (B, C, D) Lᵀx
        log_weights = self.log_weights.to(x)
        nearest = (0.5 * whitened.square().sum(-1) - log_weights).argmin(1)  # (B,)
        shortfall = (log_weights.max() - log_weights[nearest]).clamp(min=0)
        picked = whitened[torch.arange(len(nearest), device=x.device), nearest]
        return torch.cat([picked * 0.5**0.5, shortfall.sqrt()[:, None]], dim=1)

    def _precision_factors(self) -> torch.Tensor:
        """(C, D, D) L with precision = L Lᵀ, computed once per ``precisions`` tensor."""
        cached = getattr(self, "_factors", None)
        if cached is None or cached[0] is not self.precisions:
            self._factors = (self.precisions, torch.linalg.cholesky(self.precisions.double()).to(self.precisions.dtype))
        return self._factors[1]

    def hyperextension(self, body_pose: torch.Tensor) -> torch.Tensor:
        """body_pose (B, J-1, 3) -> (B,) Σ over hinges of (bend against the natural way, radians)²."""
        return self.hyperextension_residuals(body_pose).square().sum(-1)

    def hyperextension_residuals(self, body_pose: torch.Tensor) -> torch.Tensor:
        """(B, H) each hinge's bend against its natural way (radians, 0 the right way)."""
        bend = (body_pose[:, self.hinge_index.to(body_pose.device)] * self.hinge_axes.to(body_pose)).sum(-1)
        return torch.relu(-bend)

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save

        meta = {"format": FORMAT, "body_model": self.body_model, "joint_names": list(self.joint_names)}
        tensors = {f: getattr(self, f).contiguous() for f in ("means", "precisions", "log_weights", "hinge_index", "hinge_axes")}
        with atomic_path(path) as tmp:
            tmp.write_bytes(save(tensors, metadata={"openhmr": json.dumps(meta)}))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> PosePrior:
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("openhmr", "{}"))
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise OpenHMRError(f"Cannot read pose prior {path} ({e}); make one with `openhmr pose-prior`.") from None
        if meta.get("format") != FORMAT:
            raise OpenHMRError(f"{path} is not an openhmr pose prior (format {meta.get('format')!r}, expected {FORMAT!r}).")
        return cls(meta["body_model"], tuple(meta["joint_names"]), **tensors)

    def check_body(self, body) -> None:
        if self.joint_names != tuple(body.joint_names):
            raise OpenHMRError(
                f"The pose prior was fitted for the {self.body_model} body's joints, not the {body.name} body's; "
                "fit one from a bank of this body with `openhmr pose-prior`."
            )


def fit_pose_prior(body_pose: np.ndarray, joint_names: tuple[str, ...], body_model: str, components: int = 8, seed: int = 0) -> PosePrior:
    """A :class:`PosePrior` from a bank's body poses (N, J-1, 3) axis-angle."""
    from sklearn.mixture import GaussianMixture

    n = len(body_pose)
    if n < components * 10:
        raise OpenHMRError(f"A {components}-component pose prior needs at least {components * 10} poses; the bank has {n}.")
    flat = body_pose.reshape(n, -1).astype(np.float64)
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=REG_COVAR, random_state=seed, max_iter=200).fit(flat)
    # log w_c + 0.5 log det(P_c): what each component adds to the Gaussian log-density besides
    # the Mahalanobis term (the shared -D/2 log 2π is dropped).
    log_det = np.array([np.linalg.slogdet(p)[1] for p in gmm.precisions_])
    log_weights = np.log(gmm.weights_) + 0.5 * log_det
    index, axes = _hinges(body_pose, joint_names)
    as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return PosePrior(
        body_model, tuple(joint_names), as_tensor(gmm.means_), as_tensor(gmm.precisions_), as_tensor(log_weights),
        torch.as_tensor(index, dtype=torch.long), as_tensor(axes),
    )


def _hinges(body_pose: np.ndarray, joint_names: tuple[str, ...]) -> tuple[list[int], np.ndarray]:
    """Each hinge joint's main axis (the leading direction of its rotation vectors), signed so
    that the bank's typical bend is positive."""
    index, axes = [], []
    for name in HINGE_JOINTS:
        if name not in joint_names[1:]:
            continue
        j = joint_names.index(name) - 1
        rotvecs = body_pose[:, j].astype(np.float64)
        axis = np.linalg.svd(rotvecs, full_matrices=False)[2][0]
        if (rotvecs @ axis).mean() < 0:
            axis = -axis
        index.append(j)
        axes.append(axis)
    return index, np.asarray(axes).reshape(-1, 3)
