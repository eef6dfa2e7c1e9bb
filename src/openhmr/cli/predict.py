"""``openhmr predict``: 3D people from photos, folders and videos (a thin layer over
:mod:`openhmr.predict.jobs` and, with ``--bvh``, :func:`openhmr.motion.video.motions_from_videos`)."""

from __future__ import annotations

import argparse
import sys

from openhmr.errors import OpenHMRError

MAX_FOCAL_PX = 1e6  # a 1-degree field of view on a 17,000-pixel photo; beyond it, a typo


def smoothing_strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def focal_length(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= MAX_FOCAL_PX:  # also false for NaN
        raise argparse.ArgumentTypeError(f"must be a focal length in pixels, above 0 and at most {MAX_FOCAL_PX:g}; got {text!r}")
    return value


def add_parser(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="recover 3D people from photos or videos",
        description="For each person in each image (files, folders searched recursively, or "
        "videos, every --video-step-th frame): a box, 17 COCO keypoints, 3D joints, the body "
        "model's pose and shape, the camera and a mesh. Writes OUT/<name>.json and "
        "OUT/<name>_overlay.png (plus meshes and a side view on request). Exit code 0 when "
        "every input gave a result, 1 when some were skipped (each named with its reason), 2 on "
        "bad flags.",
    )
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or videos")
    predict.add_argument("--out", required=True, help="output folder")
    predict.add_argument("--checkpoint", help="weights .safetensors (default: the shipped Anny model)")
    predict.add_argument("--body-model", default="anny", help="'anny' (default) or an SMPL file, to match the checkpoint")
    predict.add_argument("--bbox", help="x,y,w,h: the person's box in pixels, for every input (no detector)")
    predict.add_argument("--keypoints", help="OpenPose or COCO keypoint JSON, or a folder of OpenPose <stem>_keypoints.json files, to take people's boxes from")
    predict.add_argument("--no-detector", action="store_true", help="skip MediaPipe: the whole image is the box")
    predict.add_argument("--detector", default="mediapipe", choices=("mediapipe", "blazepose", "movenet", "crowd"),
                         help="who finds people: MediaPipe Pose (default), its pipeline rebuilt in PyTorch "
                              "(every person in one pass; also the landmarks and masks --refine fits to), or "
                              "MoveNet MultiPose (up to six people in one pass; fetch it once with `make movenet`), or "
                              "crowd: MoveNet plus the CenterNet proposals MoveNet confirms on a closer look (more "
                              "people in crowded photos, about 0.34 s more per photo; `make movenet` fetches both)")
    predict.add_argument("--refine", choices=("fit", "eft"),
                         help="fit each body to its 2D evidence (MediaPipe's landmarks, or --keypoints): "
                              "'fit' optimises the body, 'eft' fine-tunes the network on the person; kept only when it helps")
    predict.add_argument("--focal", type=focal_length, help="focal length in pixels (default: the image diagonal)")
    predict.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default: cpu")
    predict.add_argument("--batch-size", type=int, default=16, help="crops per forward pass (default: 16)")
    predict.add_argument("--workers", type=int, default=1,
                         help="processes sharing the inputs, one thread each (default: 1; on a CPU, 2 per 2 cores "
                              "about doubles the photos per second of a folder); not with --bvh")
    predict.add_argument("--runtime", default="torch", choices=("torch", "onnx"),
                         help="run the network with PyTorch (default) or onnxruntime (exported once into the cache; "
                              "the body model and --refine stay in PyTorch)")
    predict.add_argument("--upright", action=argparse.BooleanOptionalAction, default=None,
                         help="cut each person a second time, turned upright as MediaPipe aligns its crops (its person "
                              "detector on the crop finds the turn; helps divers, gymnasts, people upside down; --refine "
                              "fits in the unturned crop from that answer; default: as the network was trained)")
    predict.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                         help="also run the network on each crop mirrored and average the two answers (default; twice "
                              "the network's time, closer on every set measured: see README); --no-flip: one pass")
    predict.add_argument("--save-mesh", choices=("obj", "ply", "glb"), help="also write each person's mesh")
    predict.add_argument("--side-view", action="store_true", help="also render the people from the side")
    predict.add_argument("--video-step", type=int, help="use every Nth video frame (default: 10; 1 with --bvh)")
    predict.add_argument("--bvh", action="store_true",
                         help="videos: follow one person through every frame and write OUT/<stem>.bvh (CMU skeleton, "
                              "the video's frame rate), OUT/<stem>_overlay.webm and OUT/<stem>_motion.json instead of per-frame files")
    predict.add_argument("--smoothing", type=smoothing_strength, default=0.5,
                         help="with --bvh: temporal smoothing strength in [0, 1] (One-Euro filter; 0 = none, default 0.5)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(run=run, check=check_usage)


def check_usage(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Flag combinations that cannot work, refused as usage errors (exit code 2)."""
    if args.refine and args.no_detector:
        parser.error("--refine fits the body to MediaPipe's landmarks or to --keypoints; it cannot run with --no-detector.")
    if args.bvh and args.keypoints:
        parser.error("--bvh follows the person MediaPipe finds (or --bbox) in each frame; it cannot take --keypoints.")
    if args.bvh and args.video_step not in (None, 1):
        parser.error("--bvh estimates every frame; leave out --video-step.")
    if args.workers < 1:
        parser.error("--workers must be at least 1.")
    if args.workers > 1 and args.bvh:
        parser.error("--bvh follows one person through each video in order; it runs in one process (leave out --workers).")


def report(event: str, item: str, reason: str) -> None:
    print(f"{event} {item}: {reason}" if event != "notice" else f"notice: {reason}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from openhmr.io import writable_folder
    from openhmr.predict.inputs import expand_inputs
    from openhmr.predict.jobs import PredictJob, predict_files
    from openhmr.predict.keypoint_boxes import parse_bbox, read_keypoint_file
    from openhmr.predict.predictor import load_model

    video_step = (1 if args.bvh else 10) if args.video_step is None else args.video_step
    if args.batch_size < 1 or video_step < 1:
        raise OpenHMRError("--batch-size and --video-step must be at least 1.")
    bbox = parse_bbox(args.bbox) if args.bbox else None
    keypoints = read_keypoint_file(args.keypoints) if args.keypoints else None
    files, skipped = expand_inputs(args.inputs)
    for item, reason in skipped:
        report("skipped", item, reason)
    if not files:
        raise OpenHMRError("No readable image or video among the inputs.")
    out_dir = writable_folder(args.out)
    # Refinement on a given box still needs MediaPipe: it finds the landmarks on the crop.
    needs_mediapipe = not (bbox or args.keypoints or args.no_detector) or (args.refine and not args.keypoints)
    if args.runtime == "onnx" and args.device != "cpu":
        raise OpenHMRError("--runtime onnx runs on the CPU; leave --device at cpu.")
    load_args = {"checkpoint": args.checkpoint, "body_model": args.body_model, "device": args.device,
                 "detector": args.detector if needs_mediapipe else None, "batch_size": args.batch_size, "runtime": args.runtime,
                 "upright": args.upright, "flip": args.flip}
    job = PredictJob(out_dir, bbox, keypoints, args.focal, args.refine, args.save_mesh, args.side_view, video_step,
                     args.smoothing, progress=not args.quiet)  # fmt: skip
    problems = len(skipped)

    def count(event: str, item: str, reason: str) -> None:
        nonlocal problems
        problems += event != "notice"
        report(event, item, reason)

    if args.workers > 1 and len(files) > 1:
        from openhmr.predict.jobs import predict_files_in_workers

        load_model(**load_args)  # a bad checkpoint or body model fails here, once, before any worker starts
        done = predict_files_in_workers(load_args, files, job, count, args.workers)
        print(f"{done} result(s) written to {out_dir}; {problems} input(s) skipped or failed")
        return 0 if not problems else 1
    model = load_model(**load_args)
    if args.bvh:
        from openhmr.motion.video import motions_from_videos

        written = motions_from_videos(model, files, job, count)
        for path in (path for files_of_one in written for path in files_of_one):
            print(path)
        print(f"{len(written)} motion(s) written to {out_dir}; {problems} input(s) skipped or failed")
    else:
        done = predict_files(model, files, job, count)
        print(f"{done} result(s) written to {out_dir}; {problems} input(s) skipped or failed")
    return 0 if not problems else 1
