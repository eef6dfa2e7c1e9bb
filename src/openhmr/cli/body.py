"""``openhmr body``: pose a body model and write its mesh and a render."""

from __future__ import annotations

import argparse
from pathlib import Path

from openhmr.errors import OpenHMRError


def add_parser(commands) -> None:
    body = commands.add_parser(
        "body",
        help="pose a body model and write its mesh and a render",
        description="Pose a body model (default: the free Anny body) in a named pose and write "
        "a mesh file and a PNG render into --out.",
    )
    body.add_argument("--body-model", default="anny", help="'anny' (default) or the path of an SMPL .pkl/.npz")
    body.add_argument("--pose", default="walk", help="named pose: rest or walk (default: walk)")
    body.add_argument("--shape", help="shape vector, comma-separated (Anny: gender,age,muscle,weight,height,proportions in [0,1])")
    body.add_argument("--yaw", type=float, default=25.0, help="turn the body about the vertical axis, degrees (default: 25)")
    body.add_argument("--size", type=int, default=512, help="render size in pixels (default: 512)")
    body.add_argument("--format", default="obj", choices=("obj", "ply", "glb"), help="mesh format (default: obj)")
    body.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    body.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.io import writable_folder
    from openhmr.showcase import pose_and_render

    writable_folder(args.out)
    shape = None
    if args.shape:
        try:
            shape = [float(x) for x in args.shape.split(",")]
        except ValueError:
            raise OpenHMRError(f"--shape must be comma-separated numbers, got {args.shape!r}.") from None
    written = pose_and_render(
        body_model=args.body_model,
        pose=args.pose,
        shape=shape,
        yaw_degrees=args.yaw,
        out_dir=Path(args.out),
        image_size=args.size,
        mesh_format=args.format,
    )
    for path in written:
        print(path)
    return 0
