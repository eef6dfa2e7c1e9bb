"""``openhmr synth``: labelled synthetic images from a pose bank."""

from __future__ import annotations

import argparse

from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES


def add_parser(commands) -> None:
    synth = commands.add_parser(
        "synth",
        help="render labelled synthetic images from a pose bank",
        description="Render Anny bodies posed from a pose bank into OUT/images and write "
        "OUT/annotations.npz (SPIN-style fields). Deterministic for a seed; rerunning the same "
        "command resumes an interrupted run.",
    )
    synth.add_argument("--poses", required=True, help="pose bank .npz (from `openhmr mocap`)")
    synth.add_argument("--num", type=int, required=True, help="number of images")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.add_argument("--res", type=int, default=CROP_RES, help=f"image size in pixels (default: {CROP_RES})")
    synth.add_argument("--backgrounds", help="folder of photos to crop backgrounds from (default: procedural)")
    synth.add_argument("--clip", help="render a video instead: --num consecutive frames of this bank clip (name or number) "
                                      "in one scene, also written as OUT/clip.mp4 (make the bank with --min-degrees 0 to keep every frame)")
    synth.add_argument("--clip-step", type=int, default=1, help="with --clip: take every Nth bank frame (default: 1)")
    synth.add_argument("--fps", type=float, default=30.0, help="with --clip: the video's frame rate (default: 30)")
    synth.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.data.synth import generate

    if args.num < 1:
        raise OpenHMRError("--num must be at least 1.")
    if args.clip_step < 1 or args.fps <= 0:
        raise OpenHMRError("--clip-step must be at least 1 and --fps positive.")
    from openhmr.io import writable_folder

    writable_folder(args.out)
    path = generate(args.poses, args.num, args.out, seed=args.seed, res=args.res, backgrounds=args.backgrounds,
                    clip=args.clip, clip_step=args.clip_step, fps=args.fps)
    print(path)
    return 0
