"""Write BVH files (the reader is :func:`openhmr.mocap.asf_amc.read_bvh`).

A skeleton is joint names, parents (parents before children) and rest offsets from the
parent joint, in the BVH's own axes and units; the root carries positions, every joint three
rotation channels in the order ``Zrotation Yrotation Xrotation`` (R = Rz Ry Rx, degrees), as
in CMU's BVH files. Leaves end in an ``End Site`` at their tail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import roma
import torch

from openhmr.io import atomic_path

EULER_ORDER = "ZYX"


@dataclasses.dataclass
class Skeleton:
    """names (J,), parents (J,) with -1 for the root, offsets (J, 3) from the parent joint,
    end_offsets (J, 3): a leaf's end site from its joint (unused elsewhere)."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    end_offsets: np.ndarray

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    def depth_first(self, joint: int = 0) -> list[int]:
        """Joints in the order a BVH file lists them (and its motion columns follow)."""
        return [joint] + [j for kid in self.children(joint) for j in self.depth_first(kid)]


def euler_degrees(rotmats: torch.Tensor | np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) intrinsic Z, Y, X angles in degrees (R = Rz Ry Rx)."""
    return roma.rotmat_to_euler(EULER_ORDER, torch.as_tensor(rotmats, dtype=torch.float64), degrees=True).numpy()


def _hierarchy_lines(skeleton: Skeleton, joint: int, depth: int) -> list[str]:
    pad = "  " * depth
    x, y, z = skeleton.offsets[joint]
    root = skeleton.parents[joint] < 0
    lines = [f"{pad}{'ROOT' if root else 'JOINT'} {skeleton.names[joint]}", f"{pad}{{",
             f"{pad}  OFFSET {x:.6f} {y:.6f} {z:.6f}"]
    channels = "6 Xposition Yposition Zposition" if root else "3"
    lines.append(f"{pad}  CHANNELS {channels} Zrotation Yrotation Xrotation")
    kids = skeleton.children(joint)
    for kid in kids:
        lines += _hierarchy_lines(skeleton, kid, depth + 1)
    if not kids:
        ex, ey, ez = skeleton.end_offsets[joint]
        lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {ex:.6f} {ey:.6f} {ez:.6f}", f"{pad}  }}"]
    lines.append(f"{pad}}}")
    return lines


def write_bvh(path: str | Path, skeleton: Skeleton, local_rotmats: np.ndarray, root_positions: np.ndarray, fps: float) -> Path:
    """``local_rotmats`` (T, J, 3, 3): each joint's rotation relative to its parent (the
    root's in world axes); ``root_positions`` (T, 3) in the skeleton's units; ``fps`` frames/s."""
    local_rotmats, root_positions = np.asarray(local_rotmats), np.asarray(root_positions)
    frames, joints = local_rotmats.shape[:2]
    if joints != len(skeleton.names) or root_positions.shape != (frames, 3):
        raise ValueError(f"{joints} rotations / {root_positions.shape} positions for {len(skeleton.names)} joints, {frames} frames")
    order = skeleton.depth_first()
    angles = euler_degrees(local_rotmats[:, order]).reshape(frames, -1)
    values = np.concatenate([root_positions, angles], axis=1)  # the root comes first in depth-first order
    lines = ["HIERARCHY", *_hierarchy_lines(skeleton, 0, 0), "MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return Path(path)
