"""SMPL-format arrays with SMPL's real shapes and kinematic tree, but made-up values.

SMPL itself cannot be redistributed. Tests and benchmarks exercise the SMPL code path on
these arrays (a rough body-like blob: joints along a stick figure, each vertex skinned to its
nearest few joints), which have every property LBS depends on: sparse normalised weights,
a normalised joint regressor, small blend shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.body.smpl_file import NUM_FACES, NUM_JOINTS, NUM_VERTICES, SMPL_PARENTS

# Rest joint positions of a rough SMPL-like stick figure (metres, y up, +x the left side).
_REST_JOINTS = np.array([
    [0.0, -0.22, 0.02], [0.06, -0.31, 0.0], [-0.06, -0.31, 0.0], [0.0, -0.11, -0.02],
    [0.1, -0.69, 0.0], [-0.1, -0.69, 0.0], [0.0, 0.03, 0.0], [0.08, -1.08, -0.04],
    [-0.08, -1.08, -0.04], [0.0, 0.08, 0.02], [0.12, -1.14, 0.08], [-0.12, -1.14, 0.08],
    [0.0, 0.29, -0.03], [0.08, 0.2, -0.01], [-0.08, 0.2, -0.01], [0.0, 0.36, 0.02],
    [0.17, 0.23, -0.02], [-0.17, 0.23, -0.02], [0.43, 0.21, -0.04], [-0.43, 0.21, -0.04],
    [0.68, 0.22, -0.04], [-0.68, 0.22, -0.04], [0.77, 0.21, -0.05], [-0.77, 0.21, -0.05],
])  # fmt: skip


def make_smpl_like_arrays(seed: int = 0, num_betas: int = 10) -> dict[str, np.ndarray]:
    """Arrays named and shaped as in an SMPL model file (see :func:`load_smpl_arrays`)."""
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, NUM_JOINTS, NUM_VERTICES)
    v_template = _REST_JOINTS[owner] + rng.normal(scale=0.04, size=(NUM_VERTICES, 3))

    # Each vertex follows its 4 nearest joints, weights falling off with distance.
    dist = np.linalg.norm(v_template[:, None] - _REST_JOINTS[None], axis=-1)
    nearest = np.argsort(dist, axis=1)[:, :4]
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS))
    near_w = np.exp(-np.take_along_axis(dist, nearest, 1) / 0.05)
    np.put_along_axis(weights, nearest, near_w / near_w.sum(1, keepdims=True), axis=1)

    # Each joint is a convex combination of 20 of its own vertices (rows sum to 1).
    j_regressor = np.zeros((NUM_JOINTS, NUM_VERTICES))
    for j in range(NUM_JOINTS):
        members = np.flatnonzero(owner == j)[:20]
        w = rng.random(len(members))
        j_regressor[j, members] = w / w.sum()

    kintree = np.array([[2**32 - 1] + list(SMPL_PARENTS[1:]), list(range(NUM_JOINTS))], dtype=np.int64)
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(NUM_VERTICES, 3, num_betas)),
        "posedirs": rng.normal(scale=0.002, size=(NUM_VERTICES, 3, 9 * (NUM_JOINTS - 1))),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, NUM_VERTICES, size=(NUM_FACES, 3)).astype(np.int64),
    }


def write_smpl_like_npz(path: str | Path, seed: int = 0, num_betas: int = 10) -> Path:
    """Write :func:`make_smpl_like_arrays` as an SMPL ``.npz`` file and return its path."""
    path = Path(path)
    np.savez(path, **make_smpl_like_arrays(seed, num_betas))
    return path
