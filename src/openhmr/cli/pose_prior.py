"""``openhmr pose-prior``: the Gaussian-mixture pose prior of fitting, from a pose bank."""

from __future__ import annotations

import argparse

from openhmr.errors import OpenHMRError


def add_parser(commands) -> None:
    prior = commands.add_parser(
        "pose-prior",
        help="fit the Gaussian-mixture pose prior that fitting uses, from a pose bank",
        description="Fit SMPLify-style pose prior (a Gaussian mixture over body poses, plus the bending "
        "direction of knees and elbows) from a pose bank made by `openhmr mocap`. The shipped Anny prior "
        "came from the CMU bank: openhmr pose-prior bank.npz --out src/openhmr/weights/pose_prior_anny.safetensors",
    )
    prior.add_argument("bank", help="pose bank .npz")
    prior.add_argument("--out", required=True, help="prior .safetensors to write")
    prior.add_argument("--body-model", default="anny", help="'anny' (default) or an SMPL file: the bank's body")
    prior.add_argument("--components", type=int, default=8, help="Gaussians in the mixture (default: 8)")
    prior.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.fit.pose_prior import fit_pose_prior
    from openhmr.io import writable_file
    from openhmr.mocap.pose_bank import PoseBank

    writable_file(args.out)
    bank = PoseBank.load(args.bank)
    body = load_body_model(args.body_model)
    if bank.body_model != body.name or bank.body_pose.shape[1] != body.num_body_joints:
        raise OpenHMRError(f"{args.bank} holds {bank.body_model} poses; pass the matching --body-model.")
    prior = fit_pose_prior(bank.body_pose, body.joint_names, body.name, args.components)
    print(prior.save(args.out))
    return 0
