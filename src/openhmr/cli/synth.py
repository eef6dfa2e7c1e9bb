"""``openhmr synth``: labelled synthetic images from a pose bank."""

from __future__ import annotations

import argparse
import sys

from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES

LOOKS = ("photo", "plain")
# Nothing heavy at the top: every command's module is imported when the CLI starts (and the web
# demo must set its temp folders before torch is first imported).


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
    synth.add_argument("--look", choices=LOOKS, default="photo",
                       help="photo: skin tones, hair, patterned clothes, key and fill light, real backdrops, lenses, cuts, "
                            "a second person, blur, noise and JPEG; plain: the first sets' flat look (default: photo)")
    synth.add_argument("--backgrounds", help="folder of photos without people to crop backdrops from (default: ../shared/data/backgrounds "
                                             "when it exists, else procedural gradients)")
    synth.add_argument("--clip", help="render a video instead: --num consecutive frames of this bank clip (name or number) "
                                      "in one scene, also written as OUT/clip.mp4 (make the bank with --min-degrees 0 to keep every frame)")
    synth.add_argument("--clip-step", type=int, default=1, help="with --clip: take every Nth bank frame (default: 1)")
    synth.add_argument("--fps", type=float, default=30.0, help="with --clip: the video's frame rate (default: 30)")
    synth.add_argument("--renderer", choices=("moderngl", "pyrender"), default="moderngl",
                       help="moderngl on EGL (default; several times faster) or pyrender on OSMesa (the first sets' renderer)")
    synth.add_argument("--workers", type=int, default=1, help="processes that render, one GL context each (default: 1)")
    synth.add_argument("--grid", help="also write the first 16 images, keypoints drawn (green seen, red hidden), as one picture here")
    synth.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.data.synth import default_backgrounds, generate

    if args.num < 1:
        raise OpenHMRError("--num must be at least 1.")
    if args.clip_step < 1 or args.fps <= 0 or args.workers < 1:
        raise OpenHMRError("--clip-step and --workers must be at least 1 and --fps positive.")
    from openhmr.io import writable_folder

    writable_folder(args.out)
    backgrounds = args.backgrounds or default_backgrounds()
    if backgrounds and not args.backgrounds:
        print(f"backdrops: photos under {backgrounds}", file=sys.stderr)
    path = generate(args.poses, args.num, args.out, seed=args.seed, res=args.res, backgrounds=backgrounds,
                    clip=args.clip, clip_step=args.clip_step, fps=args.fps, look=args.look, workers=args.workers,
                    renderer=args.renderer)
    print(path)
    if args.grid:
        from openhmr.showcase import synth_grid

        print(synth_grid(path, args.grid))
    return 0
