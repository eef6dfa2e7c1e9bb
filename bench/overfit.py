"""Overfit HMR on 16 fixed synthetic samples on CPU: the training loop learns.

Usage: python bench/overfit.py [--steps 400] [--lr 3e-4] [--backbone efficientnet_lite0]

Sixteen Anny bodies (random poses, shapes, orientations and weak-perspective cameras) are
rendered at 224² with a long-focal perspective camera; labels are their projected COCO-23
keypoints (crop coordinates), root-relative 3D keypoints and parameters. One full training
step = encoder + IEF regressor + body model + discriminator (updated every step on
"real" poses: the same 16 poses with noise, since no mocap bank exists yet). Prints a JSON
line last; the 2D loss should fall by 10x or more.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
import torch

RES = 224
FOCAL = 5000.0  # px: nearly orthographic, so weak perspective fits the renders


def make_samples(body, count: int, seed: int):
    from openhmr.geometry.camera import (
        intrinsics,
        perspective_project,
        weak_to_translation,
    )
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.render import render_mesh

    g = torch.Generator().manual_seed(seed)
    yaw = (torch.rand(count, generator=g) * 2 - 1) * math.pi
    tilt = torch.randn(count, 2, generator=g) * 0.15
    go = torch.stack([tilt[:, 0], yaw, tilt[:, 1]], dim=1)
    bp = torch.randn(count, body.num_body_joints, 3, generator=g) * 0.25
    shape = 0.2 + 0.6 * torch.rand(count, body.shape_dim, generator=g)
    cam = torch.stack(
        [0.85 + 0.15 * torch.rand(count, generator=g), *(0.1 * torch.randn(2, count, generator=g))], dim=1
    )
    with torch.no_grad():
        out = body(go, bp, shape)
    kp3d, mask = out.keypoints_as("coco23")
    translation = weak_to_translation(cam, torch.full((count,), FOCAL), RES)
    K = intrinsics(torch.full((count,), FOCAL), torch.full((count, 2), RES / 2))
    pixels = perspective_project(kp3d, translation, K)
    images = []
    for i in range(count):
        background = np.full((RES, RES, 3), np.random.default_rng(seed + i).integers(40, 220, 3), np.uint8)
        rgb = render_mesh(
            (out.vertices[i] + translation[i]).numpy(), body.faces.numpy(), K[i].numpy(), (RES, RES), background
        )
        images.append(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    visible = mask.float().expand(count, -1)[..., None]
    rotmats = axis_angle_to_matrix(torch.cat([go[:, None], bp], dim=1))
    batch = {
        "keypoints2d": torch.cat([(pixels - RES / 2) / (RES / 2), visible], dim=-1),
        "keypoints3d": torch.cat([kp3d, visible], dim=-1),
        "rotmats": rotmats,
        "shape": shape,
        "has_params": torch.ones(count),
    }
    return torch.stack(images), batch, out.joints


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Root-aligned mean per-joint position error, mm: (B, J, 3) each, joint 0 the root."""
    return float(((pred - pred[:, :1]) - (target - target[:, :1])).norm(dim=-1).mean() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate, cosine-annealed to 0")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    from tqdm import tqdm

    from openhmr.body import load_body_model
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.nets.discriminator import Discriminator
    from openhmr.nets.hmr import build_hmr
    from openhmr.train.losses import (
        LossWeights,
        discriminator_loss,
        encoder_losses,
        keypoint_2d_loss,
    )

    body = load_body_model("anny")
    images, batch, joints_gt = make_samples(body, args.samples, args.seed)
    hmr = build_hmr(body, backbone=args.backbone)
    disc = Discriminator(body.num_body_joints, body.shape_dim)
    trainable = [p for p in hmr.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=args.lr, weight_decay=1e-4)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, weight_decay=1e-4)
    # Annealing lets the fit settle instead of hovering at Adam's noise floor.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    weights = LossWeights()
    real_rotmats = batch["rotmats"][:, 1:]

    def evaluate() -> tuple[float, float]:
        hmr.eval()
        with torch.no_grad():
            final = hmr(images, decode="final")[-1]
        hmr.train()
        return float(keypoint_2d_loss(final.keypoints2d, batch["keypoints2d"], hmr.keypoint_mask)), mpjpe_mm(
            final.joints3d, joints_gt
        )

    kp2d_start, _ = evaluate()
    step_times = []
    for step in tqdm(range(args.steps), desc="overfit", mininterval=5):
        start = time.perf_counter()
        preds = hmr(images, decode="final")
        terms = encoder_losses(preds, batch, hmr.keypoint_mask, hmr.hip_indices, weights, disc, supervise="final")
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        schedule.step()
        fake = torch.cat([p.body_rotmats.detach() for p in preds])
        fake_shape = torch.cat([p.shape.detach() for p in preds])
        noise = torch.randn(real_rotmats.shape[:2] + (3,)) * 0.05
        real = real_rotmats @ axis_angle_to_matrix(noise)
        loss_d = discriminator_loss(disc(real, batch["shape"]), disc(fake, fake_shape))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        step_times.append(time.perf_counter() - start)
    kp2d_end, mm_end = evaluate()

    # The bare backbone, forward + backward on the same batch, in the same run.
    backbone_times = []
    for _ in range(10):
        start = time.perf_counter()
        hmr.encoder(images).square().sum().backward()
        backbone_times.append(time.perf_counter() - start)
    hmr.zero_grad(set_to_none=True)

    n = args.samples
    print(
        json.dumps(
            {
                "kp2d_start": round(kp2d_start, 4),
                "kp2d_end": round(kp2d_end, 4),
                "joints3d_mm_end": round(mm_end, 1),
                "disc_outputs": disc.num_outputs,
                "steps": args.steps,
                "samples_per_s": round(n / statistics.median(step_times[5:] or step_times), 2),
                "backbone_samples_per_s": round(n / statistics.median(backbone_times[2:]), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
