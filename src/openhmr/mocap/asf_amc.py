"""Motion-capture readers: CMU BVH and ASF/AMC -> a :class:`Motion` (source axes and units).

A Motion holds, per frame, every joint's *global* rotation G_j(t) (identity at the source's
rest pose) and the root position; forward kinematics gives joint positions. Source axes are
CMU's: y up, +z the subject's front, +x the subject's left. Euler angles go through roma.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import roma
import torch

from openhmr.errors import OpenHMRError


@dataclasses.dataclass
class Motion:
    """A skeleton and its motion.

    names (N,), parents (N,) with -1 for the root; rest_offsets (N, 3): each joint's rest
    position relative to its parent joint; end_offsets (N, 3): a leaf joint's end-site offset
    (zero elsewhere); rotations (T, N, 3, 3) global; root_positions (T, 3); fps.
    """

    names: list[str]
    parents: list[int]
    rest_offsets: np.ndarray
    end_offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    source: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]

    def positions(self) -> np.ndarray:
        """Forward kinematics: joint positions (T, N, 3) in source units."""
        pos = np.zeros(self.rotations.shape[:2] + (3,))
        for j, p in enumerate(self.parents):  # parents precede children in both formats
            if p < 0:
                pos[:, j] = self.root_positions
            else:
                pos[:, j] = pos[:, p] + self.rotations[:, p] @ self.rest_offsets[j]
        return pos


def euler_matrices(order: str, degrees: np.ndarray) -> np.ndarray:
    """R = R_a1(d1) R_a2(d2) R_a3(d3) for axes ``order`` (e.g. "ZYX"): degrees (..., 3) -> (..., 3, 3)."""
    angles = torch.as_tensor(np.asarray(degrees, dtype=np.float64))
    return roma.euler_to_rotmat(order.upper(), angles, degrees=True).numpy()


def _chain_globals(local: np.ndarray, parents: list[int]) -> np.ndarray:
    """Global rotations (T, N, 3, 3) from local ones: G_j = G_parent L_j."""
    out = np.empty_like(local)
    for j, p in enumerate(parents):
        out[:, j] = local[:, j] if p < 0 else out[:, p] @ local[:, j]
    return out


# ----- BVH ---------------------------------------------------------------------------------------


def read_bvh(path: str | Path) -> Motion:
    """Read a BVH file (per-joint channel orders honoured; angles in degrees)."""
    path = Path(path)
    try:
        tokens = path.read_text(errors="replace").split()
    except OSError as e:
        raise OpenHMRError(f"Cannot read {path}: {e.strerror or e}.") from None
    try:
        return _parse_bvh(tokens, str(path))
    except (ValueError, IndexError) as e:
        raise OpenHMRError(f"{path}: not a readable BVH file ({e}).") from None


def _parse_bvh(tokens: list[str], source: str) -> Motion:
    names, parents, offsets, ends, channels = [], [], [], [], []
    stack: list[int] = []
    i = 0
    if tokens[0] != "HIERARCHY":
        raise ValueError("missing HIERARCHY")
    i = 1
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            ends.append(np.zeros(3))
            channels.append([])
            i += 2
        elif tok == "End":  # End Site { OFFSET x y z }
            ends[stack[-1]] = np.array([float(t) for t in tokens[i + 4 : i + 7]])
            i += 8
        elif tok == "{":
            stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets[stack[-1]] = np.array([float(t) for t in tokens[i + 1 : i + 4]])
            i += 4
        elif tok == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + count]
            i += 2 + count
        else:
            raise ValueError(f"unexpected token {tok!r}")
    num_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array(tokens[i + 6 :], dtype=np.float64)
    width = sum(len(c) for c in channels)
    if values.size != num_frames * width:
        raise ValueError(f"{values.size} motion values for {num_frames} frames of {width} channels")
    values = values.reshape(num_frames, width)

    local = np.tile(np.eye(3), (num_frames, len(names), 1, 1))
    root_pos = np.zeros((num_frames, 3))
    column = 0
    for j, chans in enumerate(channels):
        rot_axes = [c[0] for c in chans if c.endswith("rotation")]
        rot_cols = [column + k for k, c in enumerate(chans) if c.endswith("rotation")]
        for k, c in enumerate(chans):
            if c.endswith("position") and parents[j] < 0:
                root_pos[:, "XYZ".index(c[0])] = values[:, column + k]
        if len(rot_axes) == 3:
            local[:, j] = euler_matrices("".join(rot_axes), values[:, rot_cols])
        elif rot_axes:
            raise ValueError(f"joint {names[j]} has {len(rot_axes)} rotation channels; 3 are supported")
        column += len(chans)
    root_pos += offsets[0]
    return Motion(
        names, parents, np.array(offsets), np.array(ends), _chain_globals(local, parents), root_pos, 1.0 / frame_time, source
    )


# ----- ASF/AMC -----------------------------------------------------------------------------------


@dataclasses.dataclass
class _AsfBone:
    name: str
    vector: np.ndarray  # direction * length, rest, global axes
    axis: np.ndarray  # C_b (3, 3)
    dofs: list[str]


def read_asf_amc(asf_path: str | Path, amc_path: str | Path, fps: float = 120.0) -> Motion:
    """Read a CMU skeleton (.asf) and one of its clips (.amc).

    G_b = G_parent C_b M_b C_bᵀ with C_b = Rz Ry Rx of the bone's ASF axis and M_b = Rz Ry Rx
    of its AMC values (the AMC lists only the bone's declared degrees of freedom).
    """
    asf_path, amc_path = Path(asf_path), Path(amc_path)
    try:
        asf_text, amc_text = asf_path.read_text(errors="replace"), amc_path.read_text(errors="replace")
    except OSError as e:
        raise OpenHMRError(f"Cannot read {e.filename}: {e.strerror}.") from None
    try:
        bones, hierarchy, root_order, root_axis = _parse_asf(asf_text)
        frames = _parse_amc(amc_text)
    except (ValueError, IndexError, KeyError) as e:
        raise OpenHMRError(f"{asf_path} / {amc_path}: not a readable ASF/AMC pair ({e}).") from None
    if not frames:
        raise OpenHMRError(f"{amc_path}: holds no frames.")

    names = ["root"]
    parents = [-1]
    for parent, kids in hierarchy:  # breadth of the hierarchy section keeps parents first
        for kid in kids:
            if kid not in bones:
                raise OpenHMRError(f"{asf_path}: hierarchy names an unknown bone {kid!r}.")
            names.append(kid)
            parents.append(names.index(parent))
    vectors = [np.zeros(3)] + [bones[n].vector for n in names[1:]]
    rest_offsets = np.array([np.zeros(3) if p < 0 else vectors[p] for p in parents])
    end_offsets = np.array(vectors)

    num_frames = len(frames)
    local = np.empty((num_frames, len(names), 3, 3))
    # Gather each bone's values over all frames first: one Euler conversion per bone.
    root = np.zeros((num_frames, 6))
    for t, frame in enumerate(frames):
        values = frame.get("root")
        if values is None:
            raise OpenHMRError(f"{amc_path}: frame {t + 1} has no root line.")
        by_channel = dict(zip(root_order, values))
        root[t] = [by_channel.get(c, 0.0) for c in ("TX", "TY", "TZ", "RZ", "RY", "RX")]
    root_pos = root[:, :3]
    local[:, 0] = root_axis @ euler_matrices("ZYX", root[:, 3:]) @ root_axis.T
    for j, name in enumerate(names[1:], start=1):
        bone = bones[name]
        angles = np.zeros((num_frames, 3))  # rz, ry, rx
        for t, frame in enumerate(frames):
            for dof, v in zip(bone.dofs, frame.get(name, [])):
                if dof in _DOF_COLUMN:
                    angles[t, _DOF_COLUMN[dof]] = v
        local[:, j] = bone.axis @ euler_matrices("ZYX", angles) @ bone.axis.T
    return Motion(names, parents, rest_offsets, end_offsets, _chain_globals(local, parents), root_pos, fps, str(amc_path))


_DOF_COLUMN = {"rz": 0, "ry": 1, "rx": 2}


def _parse_asf(text: str):
    sections = re.split(r"^:", text, flags=re.MULTILINE)
    bones: dict[str, _AsfBone] = {}
    hierarchy: list[tuple[str, list[str]]] = []
    root_order, root_axis = ["TX", "TY", "TZ", "RX", "RY", "RZ"], np.eye(3)
    for section in sections:
        head, _, body = section.partition("\n")
        key = head.split()[0] if head.split() else ""
        if key == "root":
            for line in body.splitlines():
                parts = line.split()
                if parts and parts[0] == "order":
                    root_order = [p.upper() for p in parts[1:]]
                elif parts and parts[0] == "orientation":
                    root_axis = euler_matrices("ZYX", [float(v) for v in parts[1:4]][::-1])
        elif key == "bonedata":
            for block in re.findall(r"begin(.*?)end", body, flags=re.DOTALL):
                fields = {}
                for line in block.strip().splitlines():
                    parts = line.split()
                    if parts:
                        fields[parts[0]] = parts[1:]
                direction = np.array([float(v) for v in fields["direction"][:3]])
                length = float(fields["length"][0])
                axis_deg = [float(v) for v in fields.get("axis", ["0", "0", "0"])[:3]]
                bones[fields["name"][0]] = _AsfBone(
                    fields["name"][0],
                    direction * length,
                    euler_matrices("ZYX", axis_deg[::-1]),
                    [d.lower() for d in fields.get("dof", [])],
                )
        elif key == "hierarchy":
            for line in body.splitlines():
                parts = line.split()
                if parts and parts[0] not in ("begin", "end"):
                    hierarchy.append((parts[0], parts[1:]))
    if not bones or not hierarchy:
        raise ValueError("no bone data or hierarchy")
    return bones, hierarchy, root_order, root_axis


def _parse_amc(text: str) -> list[dict[str, list[float]]]:
    frames: list[dict[str, list[float]]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ":")):
            continue
        if len(parts) == 1 and parts[0].isdigit():
            frames.append({})
        elif frames:
            frames[-1][parts[0]] = [float(v) for v in parts[1:]]
    return frames


def find_asf(amc_path: Path) -> Path:
    """The CMU subject skeleton for a clip: ``02_01.amc`` -> ``02.asf`` beside it."""
    subject = amc_path.stem.split("_")[0]
    candidates = [amc_path.with_name(f"{subject}.asf"), *sorted(amc_path.parent.glob("*.asf"))]
    for c in candidates:
        if c.is_file():
            return c
    raise OpenHMRError(f"{amc_path}: no skeleton file ({subject}.asf) beside it; pass --asf.")
