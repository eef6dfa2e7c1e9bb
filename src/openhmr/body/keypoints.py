"""Keypoint conventions as named tables, and mapping between them.

A convention is an ordered tuple of landmark names from one shared vocabulary. The same name
means the same landmark in every convention; where datasets define a point differently (the
LSP "neck" is the top of the sternum, the SMPL "neck" a joint centre) the names differ, so
that no point is silently equated with another. Mapping between conventions is a lookup by
name: a name the source lacks is *missing* (index 0, mask False), never guessed.

Left/right flip permutations follow from the names (``left_*`` <-> ``right_*``).
"""

from __future__ import annotations

import torch

_COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# COCO-WholeBody order for the six foot points.
_COCO_FEET = (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

_LSP14 = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck_lsp", "head_top",
)  # fmt: skip

_H36M17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "spine_h36m", "thorax_h36m", "neck_nose_h36m", "head_h36m",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist",
)  # fmt: skip

_SMPL24 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

# MediaPipe Pose's 33 landmarks. Its hips sit higher and wider than COCO's (fitting
# down-weights them); its "foot index" is the tip of the foot, where COCO-WholeBody's big toe is.
_MEDIAPIPE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_big_toe", "right_big_toe",
)  # fmt: skip

# OpenPose BODY_25: its neck and mid-hip are its own points (not COCO's, not LSP's).
_OPENPOSE25 = (
    "nose", "neck_openpose", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "pelvis_openpose", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

CONVENTIONS: dict[str, tuple[str, ...]] = {
    "coco17": _COCO17,
    "coco23": _COCO17 + _COCO_FEET,
    "lsp14": _LSP14,
    # HMR's 19 keypoints: LSP-14 then nose, eyes, ears.
    "hmr19": _LSP14 + ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "h36m17": _H36M17,
    "smpl24": _SMPL24,
    "mediapipe33": _MEDIAPIPE33,
    "openpose25": _OPENPOSE25,
    # OpenPose COCO-18: BODY_25 without mid-hip and feet.
    "openpose18": _OPENPOSE25[:8] + _OPENPOSE25[9:19],
    # SPIN's 24 ground-truth joints (its preprocessed LSP/MPII/COCO/H36M/3DPW .npz "part", "S").
    "spin24": _LSP14 + ("pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m", "head_h36m",
                        "nose", "left_eye", "right_eye", "left_ear", "right_ear"),
}


def convention_names(convention: str) -> tuple[str, ...]:
    """The ordered landmark names of a named convention (e.g. ``"coco17"``)."""
    try:
        return CONVENTIONS[convention]
    except KeyError:
        known = ", ".join(CONVENTIONS)
        raise ValueError(f"Unknown keypoint convention {convention!r}; known: {known}.") from None


def mirror_name(name: str) -> str:
    """``left_x`` <-> ``right_x``; other names are their own mirror."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


def flip_permutation(names: tuple[str, ...] | list[str] | str) -> list[int]:
    """Index permutation ``p`` such that ``points[:, p]`` swaps left and right.

    ``names`` is a convention name or a list of landmark names; every mirrored name must be
    present too.
    """
    names = convention_names(names) if isinstance(names, str) else tuple(names)
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in names if mirror_name(n) not in index]
    if missing:
        raise ValueError(f"Cannot flip: no mirror landmark for {missing}.")
    return [index[mirror_name(n)] for n in names]


def mapping(
    source: tuple[str, ...] | list[str], target: str | tuple[str, ...] | list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into ``source`` for each target landmark, and which ones exist.

    Returns ``index (K,)`` long and ``mask (K,)`` bool with ``K = len(target)``; where the
    source lacks a landmark, ``index`` is 0 and ``mask`` is False.
    """
    target = convention_names(target) if isinstance(target, str) else tuple(target)
    position = {n: i for i, n in enumerate(source)}
    index = torch.tensor([position.get(n, 0) for n in target], dtype=torch.long)
    mask = torch.tensor([n in position for n in target], dtype=torch.bool)
    return index, mask


def convert(
    points: torch.Tensor,
    source: tuple[str, ...] | list[str],
    target: str | tuple[str, ...] | list[str],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reorder ``points (..., Ks, D)`` named by ``source`` into ``target`` order.

    Returns ``(..., Kt, D)`` with missing landmarks set to zero, and ``mask (Kt,)``.
    """
    index, mask = mapping(source, target)
    index, mask = index.to(points.device), mask.to(points.device)
    out = points.index_select(-2, index)
    return out * mask[:, None].to(points.dtype), mask
