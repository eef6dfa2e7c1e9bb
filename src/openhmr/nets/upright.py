"""Upright crops turned back: a person cut a second time, turned so they stand upright (the
turn found by :mod:`openhmr.detect.upright`), and the network's answer turned back into the
unturned crop's frame.

Divers, gymnasts and riders bent over are where the network fails; turned upright they look
like the people it was trained on. The turn is about the crop's centre, so it is undone
exactly: a crop turned by ``a`` degrees (counter-clockwise on screen, as
:func:`openhmr.geometry.crop.crop_matrix` turns it) sees the scene rolled by Rz(−a) about the
optical axis; its 2D points, weak-perspective translation, 3D points (root at the origin) and
global orientation are rolled back by Rz(a)."""

from __future__ import annotations

import torch

from openhmr.geometry.rotations import axis_angle_to_matrix

# Outputs made of points in the camera frame (B, N, 3) or the crop (B, N, 2).
POINTS_3D = ("vertices", "joints3d", "keypoints3d")


def turned_back(out: dict[str, torch.Tensor], angles: torch.Tensor) -> dict[str, torch.Tensor]:
    """The network's outputs ``out`` on crops turned by ``angles`` (B,) degrees, as on the
    unturned crops: ``camera`` (B, 3) weak perspective, ``rotmats`` (B, J, 3, 3) global
    orientation first, ``vertices`` / ``joints3d`` / ``keypoints3d`` (B, N, 3) with the root at
    the origin, ``keypoints2d`` (B, K, 2) crop coordinates, each when present (and not None);
    other fields (``shape``, raw ``theta``) pass unchanged."""
    a = torch.deg2rad(angles.float())
    roll = axis_angle_to_matrix(torch.stack([torch.zeros_like(a), torch.zeros_like(a), a], dim=-1))  # (B, 3, 3) Rz(a)
    back = dict(out)
    flat = roll[:, :2, :2]
    if out.get("rotmats") is not None:
        back["rotmats"] = torch.cat([(roll @ out["rotmats"][:, 0])[:, None], out["rotmats"][:, 1:]], dim=1)
    if out.get("camera") is not None:
        back["camera"] = torch.cat([out["camera"][:, :1], torch.einsum("bij,bj->bi", flat, out["camera"][:, 1:])], dim=1)
    for name in POINTS_3D:
        if out.get(name) is not None:
            back[name] = out[name] @ roll.transpose(1, 2)
    if out.get("keypoints2d") is not None:
        back["keypoints2d"] = out["keypoints2d"] @ flat.transpose(1, 2)
    return back
