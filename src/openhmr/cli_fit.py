"""The fitting commands of ``openhmr``: ``fit-labels`` and ``pose-prior`` (part of the thin
command layer: only :mod:`openhmr.cli` imports this)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from openhmr.errors import OpenHMRError


def _fit_labels_command(args: argparse.Namespace) -> int:
    from openhmr.fit.labels import LabelJob, fit_labels

    if args.workers < 1 or args.chunk < 1 or args.batch_size < 1:
        raise OpenHMRError("--workers, --chunk and --batch-size must be at least 1.")
    from openhmr.fit import FitSettings

    try:
        FitSettings.parse(args.fit)  # refused here, before any worker starts
    except ValueError as e:
        raise OpenHMRError(str(e)) from None
    from openhmr.io import writable_file

    writable_file(args.out)
    job = LabelJob(tuple(args.sources), args.checkpoint, args.mode, args.batch_size, args.max_error_px, tuple(args.fit))
    counts = fit_labels(job, args.out, workers=args.workers, chunk=args.chunk, progress=not args.quiet)
    print(json.dumps(counts))
    print(f"{counts['good']} good fits of {counts['fitted']} people written to {args.out}; {counts['unreadable']} unreadable image(s) skipped")
    return 0


def _pose_prior_command(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.data.pose_bank import PoseBank
    from openhmr.fit.pose_prior import fit_pose_prior

    from openhmr.io import writable_file

    writable_file(args.out)
    bank = PoseBank.load(args.bank)
    body = load_body_model(args.body_model)
    if bank.body_model != body.name or bank.body_pose.shape[1] != body.num_body_joints:
        raise OpenHMRError(f"{args.bank} holds {bank.body_model} poses; pass the matching --body-model.")
    prior = fit_pose_prior(bank.body_pose, body.joint_names, body.name, args.components)
    print(prior.save(args.out))
    return 0


def add_fit_commands(commands) -> None:
    labels = commands.add_parser(
        "fit-labels",
        help="turn 2D-labelled photos into pseudo-3D labels (SPIN / EFT style)",
        description="Fit a body to every person of 2D-labelled sets (LSP or LSP-extended folders "
        "[:train|test], COCO keypoint .json, SPIN-style .npz), starting from the network and aiming "
        "at the human labels. Writes a SPIN-style .npz (imgname, center, scale, part, S, pose, shape, "
        "has_smpl) with fit_error_px, fit_accepted and good per person; only good fits carry 3D. "
        "Training takes the file as a data.real source. Resumable: rerun the same command.",
    )
    labels.add_argument("sources", nargs="+", metavar="SET", help="labelled sets, e.g. ../data/lsp:train")
    labels.add_argument("--out", required=True, help="pseudo-label .npz to write")
    labels.add_argument("--checkpoint", help="weights .safetensors (default: the shipped Anny model)")
    labels.add_argument("--mode", choices=("fit", "eft"), default="fit", help="fit the body (default) or fine-tune the network (EFT)")
    labels.add_argument("--max-error-px", type=float, default=10.0, help="a good fit's largest mean error, 224² crop pixels (default: 10)")
    labels.add_argument("--fit", action="append", default=[], metavar="KEY=VALUE",
                        help="a fitting setting (see docs/fitting.md), e.g. --fit iterations=40 --fit discriminator=0.3; repeatable")
    labels.add_argument("--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    labels.add_argument("--chunk", type=int, default=64, help="people per resumable part (default: 64)")
    labels.add_argument("--batch-size", type=int, default=16, help="people fitted together (default: 16)")
    labels.add_argument("--quiet", action="store_true", help="no progress bar")
    labels.set_defaults(run=_fit_labels_command)

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
    prior.set_defaults(run=_pose_prior_command)
