"""``openhmr mocap``: motion capture into a pose bank."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands) -> None:
    mocap = commands.add_parser(
        "mocap",
        help="convert motion capture into a pose bank",
        description="Convert motion-capture clips (CMU .bvh, .amc with its .asf, AMASS .npz; "
        "folders are searched) into one pose bank .npz for a body model: near-duplicate frames "
        "dropped, each body turned to face the camera, every pose tagged with its clip. --fits adds "
        "poses from photos: the good fits of `openhmr fit-labels`, with their mirror images.",
    )
    mocap.add_argument("files", nargs="*", help="motion files or folders")
    mocap.add_argument("--fits", action="append", default=[],
                       help="also poses from photos: an `openhmr fit-labels` .npz whose good fits (and their mirror images) "
                            "join the bank, one clip per file; repeatable")
    mocap.add_argument("--max-error-px", type=float, default=10.0,
                       help="with --fits: keep fits within this mean error, 224² crop pixels (default: 10)")
    mocap.add_argument("--out", required=True, help="pose bank to write (.npz)")
    mocap.add_argument("--body-model", default="anny", help="'anny' (CMU clips) or an SMPL file (AMASS clips)")
    mocap.add_argument("--min-degrees", type=float, default=5.0, help="keep a frame once a joint turned this much (default: 5)")
    mocap.add_argument("--asf", help="skeleton for .amc clips (default: <subject>.asf beside each clip)")
    mocap.add_argument("--preview", help="also render frames of the first clip into this PNG strip")
    mocap.set_defaults(run=run)


MOTION_SUFFIXES = (".bvh", ".amc", ".npz")


def motion_files(inputs: list[str]) -> list[Path]:
    """The motion files named by ``inputs``, folders searched recursively."""
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in MOTION_SUFFIXES))
        else:
            files.append(path)
    return files


def run(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.errors import OpenHMRError
    from openhmr.io import writable_file
    from openhmr.mocap.cmu_bank import build_pose_bank
    from openhmr.mocap.photo_poses import bank_from_fits
    from openhmr.mocap.pose_bank import PoseBank

    if not args.files and not args.fits:
        raise OpenHMRError("Give motion files or folders, or --fits FITS.npz.")
    writable_file(args.out)
    files = motion_files(args.files)
    body = load_body_model(args.body_model)
    banks, skipped = [], []
    if files:
        bank, skipped = build_pose_bank(files, body, args.min_degrees, Path(args.asf) if args.asf else None)
        banks.append(bank)
    banks += [bank_from_fits(fits, body, args.max_error_px) for fits in args.fits]
    bank = PoseBank.concatenate(banks)
    bank.save(args.out)
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{args.out}: {len(bank)} poses from {len(bank.clip_names)} clips ({len(skipped)} files skipped)")
    if args.preview:
        from openhmr.showcase import render_pose_strip

        first = bank.clip_id == 0
        print(render_pose_strip(body, bank.global_orient[first], bank.body_pose[first], Path(args.preview)))
    return 0
