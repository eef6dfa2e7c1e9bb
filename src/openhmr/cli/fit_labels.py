"""``openhmr fit-labels``: pseudo-3D labels for 2D-labelled photos."""

from __future__ import annotations

import argparse
import json

from openhmr.errors import OpenHMRError


def add_parser(commands) -> None:
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
                        help="a fitting setting (see docs/fitting.md), e.g. --fit iterations=40 --fit discriminator=0.3; repeatable (default here: optimiser=lbfgs)")
    labels.add_argument("--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    labels.add_argument("--chunk", type=int, default=64, help="people per resumable part (default: 64)")
    labels.add_argument("--batch-size", type=int, default=16, help="people fitted together (default: 16)")
    labels.add_argument("--quiet", action="store_true", help="no progress bar")
    labels.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
