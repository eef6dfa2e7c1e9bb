"""Linear blend skinning for SMPL-format models: small pure functions.

Shapes: B batch, V vertices, J joints, S shape coefficients, P = 9 (J - 1) pose features.
"""

from __future__ import annotations

import torch


def depth_levels(parents: tuple[int, ...]) -> list[torch.Tensor]:
    """Joints grouped by depth in the tree (root first), so each level is one batched product."""
    depth = []
    for j, p in enumerate(parents):
        depth.append(0 if p < 0 else depth[p] + 1)
    return [
        torch.tensor([j for j in range(len(parents)) if depth[j] == d], dtype=torch.long)
        for d in range(max(depth) + 1)
    ]


def blend_shapes(
    coefficients: torch.Tensor, template: torch.Tensor, directions: torch.Tensor
) -> torch.Tensor:
    """``template + coefficients @ directions``, batch first.

    coefficients (B, C), template (N, 3), directions (C, N * 3) -> (B, N, 3).
    """
    flat = torch.addmm(template.reshape(1, -1), coefficients, directions)
    return flat.view(coefficients.shape[0], -1, 3)


def blend_shapes_vertex_major(
    coefficients: torch.Tensor, template_column: torch.Tensor, directions_t: torch.Tensor
) -> torch.Tensor:
    """The same sum laid out batch-last, which is what :func:`skin` consumes.

    coefficients (B, C), template_column (N * 3, 1), directions_t (N * 3, C) -> (N, 3, B).
    """
    flat = torch.addmm(template_column, directions_t, coefficients.T)
    return flat.view(-1, 3, coefficients.shape[0])


def pose_features(rotmats: torch.Tensor) -> torch.Tensor:
    """SMPL pose-corrective features: ``(R_j - I)`` flattened over non-root joints.

    rotmats (B, J, 3, 3) -> (B, 9 (J - 1)).
    """
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    return (rotmats[:, 1:] - eye).flatten(1)


def forward_kinematics(
    rotmats: torch.Tensor,
    rest_joints: torch.Tensor,
    parents: tuple[int, ...],
    levels: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """World rotations and positions of every joint.

    rotmats (B, J, 3, 3) local rotations (joint 0: global), rest_joints (B, J, 3).
    Returns rotations (B, J, 3, 3) and posed joint positions (B, J, 3); the root stays at its
    rest position and every other joint hangs off its parent by the rotated rest offset.
    """
    parent_index = torch.tensor([max(p, 0) for p in parents], device=rotmats.device)
    offsets = rest_joints - rest_joints[:, parent_index]
    world_rot = torch.empty_like(rotmats)
    world_pos = torch.empty_like(rest_joints)
    root = levels[0].to(rotmats.device)
    world_rot[:, root] = rotmats[:, root]
    world_pos[:, root] = rest_joints[:, root]
    for level in levels[1:]:
        level = level.to(rotmats.device)
        par = parent_index[level]
        parent_rot = world_rot[:, par]
        world_rot[:, level] = parent_rot @ rotmats[:, level]
        world_pos[:, level] = world_pos[:, par] + (parent_rot @ offsets[:, level, :, None])[..., 0]
    return world_rot, world_pos


def skinning_transforms(
    world_rot: torch.Tensor, world_pos: torch.Tensor, rest_joints: torch.Tensor
) -> torch.Tensor:
    """Per-joint affine maps from rest to posed space, as (B, J, 3, 4) ``[R | t - R j_rest]``."""
    translation = world_pos - (world_rot @ rest_joints[..., None])[..., 0]
    return torch.cat([world_rot, translation[..., None]], dim=-1)


def skin(
    vertices: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor, chunk: int = 768
) -> torch.Tensor:
    """Blend the joint transforms per vertex and apply them.

    vertices (V, 3, B) batch-last, weights (V, J), transforms (B, J, 3, 4) -> (B, V, 3).

    Batch-last keeps every step a long contiguous run over B: a (v, J) x (J, 12 B) product
    blends the transforms of a chunk of v vertices, then three fused multiply-adds apply them
    while the chunk is still in cache (a batched 3x3 matmul over V * B tiny matrices, or one
    pass over all vertices, is about twice as slow on CPU).
    """
    batch, joints = transforms.shape[:2]
    flat = transforms.permute(1, 2, 3, 0).reshape(joints, 12 * batch)
    pieces = []
    for start in range(0, vertices.shape[0], chunk):
        blended = (weights[start : start + chunk] @ flat).view(-1, 3, 4, batch)  # (v, 3, 4, B)
        v = vertices[start : start + chunk]
        out = torch.addcmul(blended[:, :, 3], blended[:, :, 0], v[:, None, 0])
        out.addcmul_(blended[:, :, 1], v[:, None, 1]).addcmul_(blended[:, :, 2], v[:, None, 2])
        pieces.append(out.permute(2, 0, 1))  # (B, v, 3) view
    return torch.cat(pieces, dim=1)
