"""The ``openhmr`` command: a thin layer over the Python API.

Exit codes: 0 success, 1 a problem with the user's input (explained in one sentence),
2 a usage error (bad flags).
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from openhmr import __version__
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES


def _body_command(args: argparse.Namespace) -> int:
    from openhmr.showcase import pose_and_render

    from openhmr.io import writable_folder

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


_MOTION_SUFFIXES = (".bvh", ".amc", ".npz")


def _motion_files(inputs: list[str]) -> list[Path]:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in _MOTION_SUFFIXES))
        else:
            files.append(path)
    return files


def _mocap_command(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.data.mocap_bank import build_pose_bank

    from openhmr.io import writable_file

    writable_file(args.out)
    files = _motion_files(args.files)
    body = load_body_model(args.body_model)
    bank, skipped = build_pose_bank(files, body, args.min_degrees, Path(args.asf) if args.asf else None)
    bank.save(args.out)
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{args.out}: {len(bank)} poses from {len(bank.clip_names)} clips ({len(skipped)} files skipped)")
    if args.preview:
        from openhmr.showcase import render_pose_strip

        first = bank.clip_id == 0
        print(render_pose_strip(body, bank.global_orient[first], bank.body_pose[first], Path(args.preview)))
    return 0


def _synth_command(args: argparse.Namespace) -> int:
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


def _train_command(args: argparse.Namespace) -> int:
    from openhmr.train.config import load_config
    from openhmr.train.run import train

    from openhmr.io import writable_folder

    config = load_config(args.config, args.overrides)
    if args.resume is None:  # a resume is checked first by train(), before anything is created
        writable_folder(config.out_dir, "out_dir")
    print(train(config, resume=args.resume))
    return 0


def _eval_command(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.data.pose_bank import PoseBank
    from openhmr.io import writable_file, write_json
    from openhmr.nets.weights_io import load_hmr, read_metadata
    from openhmr.train.evaluate import PROTOCOLS_2D, evaluate, evaluate_2d, format_table, read_eval_set

    # The inputs are read first: a bad --data, --checkpoint or --out is reported before any model loads.
    out = writable_file(args.out or f"{Path(args.checkpoint).stem}.eval-{args.protocol}.json")
    arch, _ = read_metadata(args.checkpoint)
    annotations = read_eval_set(args.data, args.protocol)
    body = load_body_model(args.body_model or arch["body_model"])
    hmr = load_hmr(args.checkpoint, body)
    if args.protocol in PROTOCOLS_2D:
        result = evaluate_2d(hmr, annotations, args.protocol, args.batch_size)
    else:
        bank = PoseBank.load(args.poses) if args.poses else None
        result = evaluate(hmr, annotations, args.protocol, args.batch_size, args.joint_regressor, bank)
    result["checkpoint"] = str(args.checkpoint)
    result["data"] = str(args.data)
    print(format_table(result))
    print(write_json(out, result))
    return 0


def _predict_command(args: argparse.Namespace) -> int:
    import warnings

    from tqdm import tqdm

    from openhmr.predict.detect import (
        Detection,
        box_outside,
        boxes_from_keypoints,
        parse_bbox,
        read_keypoint_file,
    )
    from openhmr.io import WriteError, writable_folder
    from openhmr.predict.images import ImageError
    from openhmr.predict.inputs import expand_inputs, frames
    from openhmr.predict.outputs import write_outputs
    from openhmr.predict.predictor import load_model

    if args.video_step is None:
        args.video_step = 1 if args.bvh else 10
    if args.batch_size < 1 or args.video_step < 1:
        raise OpenHMRError("--batch-size and --video-step must be at least 1.")
    bbox = parse_bbox(args.bbox) if args.bbox else None
    keypoints = read_keypoint_file(args.keypoints) if args.keypoints else None
    files, skipped = expand_inputs(args.inputs)
    for item, reason in skipped:
        print(f"skipped {item}: {reason}", file=sys.stderr)
    if not files:
        raise OpenHMRError("No readable image or video among the inputs.")
    # Refinement on a given box still needs MediaPipe: it finds the landmarks on the crop.
    out_dir = writable_folder(args.out)
    needs_mediapipe = not (bbox or args.keypoints or args.no_detector) or (args.refine and not args.keypoints)
    detector = "mediapipe" if needs_mediapipe else None
    model = load_model(args.checkpoint, args.body_model, args.device, detector, args.batch_size)
    faces = model.body.faces.cpu().numpy()
    if args.bvh:
        return _predict_motion(args, model, files, skipped, bbox, out_dir)
    done, used_stems = 0, set()
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        for path in tqdm(files, desc="predict", unit="input", disable=args.quiet):
            try:
                for name, image in frames(path, args.video_step, notice=lambda text: print(f"notice: {text}", file=sys.stderr)):
                    height, width = image.shape[:2]
                    if bbox and box_outside(bbox, width, height):
                        skipped.append((f"{path} ({name})" if name != path.stem else str(path), f"--bbox lies outside the {width}x{height} image"))
                        print(f"skipped {skipped[-1][0]}: {skipped[-1][1]}", file=sys.stderr)
                        continue
                    if bbox:
                        boxes = [Detection(bbox, 1.0)]
                    elif keypoints is not None:
                        boxes = boxes_from_keypoints(keypoints, path.name, width, height)
                    else:
                        boxes = model.detect(image)
                    if not boxes:
                        skipped.append((f"{path} ({name})" if name != path.stem else str(path), "no person found"))
                        print(f"skipped {skipped[-1][0]}: no person found", file=sys.stderr)
                        continue
                    stem = name
                    while stem in used_stems:  # same name from another folder: keep both
                        stem += "_"
                    used_stems.add(stem)
                    prediction = model.predict(image, boxes, args.focal, name=str(path), refine=args.refine)
                    write_outputs(out_dir, stem, image, prediction, faces, args.save_mesh, args.side_view)
                    done += 1
            except ImageError as e:
                skipped.append((str(path), str(e)))
                print(f"skipped {path}: {e}", file=sys.stderr)
            except WriteError as e:  # its partial files are gone (write_outputs); the run goes on
                skipped.append((str(path), str(e)))
                print(f"failed {path}: {e}", file=sys.stderr)
    print(f"{done} result(s) written to {out_dir}; {len(skipped)} input(s) skipped or failed")
    return 0 if not skipped else 1


def _predict_motion(args, model, files, skipped, bbox, out_dir: Path) -> int:
    """``predict --bvh``: each video becomes a BVH, an overlay video and a motion JSON."""
    import warnings

    from openhmr.io import WriteError
    from openhmr.motion.video import video_to_motion
    from openhmr.predict.detect import Detection
    from openhmr.predict.images import ImageError
    from openhmr.predict.inputs import is_video

    boxes_for = (lambda image: [Detection(bbox, 1.0)]) if bbox else None
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        for path in files:
            if not is_video(path):
                skipped.append((str(path), "--bvh needs a video"))
                print(f"skipped {path}: --bvh needs a video", file=sys.stderr)
                continue
            try:
                written = video_to_motion(model, path, out_dir, path.stem, args.smoothing, boxes_for, args.focal,
                                          args.refine, progress=not args.quiet)
            except ImageError as e:
                skipped.append((str(path), str(e)))
                print(f"skipped {path}: {e}", file=sys.stderr)
                continue
            except WriteError as e:  # video_to_motion removed its partial files
                skipped.append((str(path), str(e)))
                print(f"failed {path}: {e}", file=sys.stderr)
                continue
            done += 1
            for p in written:
                print(p)
    print(f"{done} motion(s) written to {out_dir}; {len(skipped)} input(s) skipped or failed")
    return 0 if not skipped else 1


def _serve_command(args: argparse.Namespace) -> int:
    from openhmr.serve.app import serve

    if not 0 < args.port < 65536 or args.max_upload_mb < 1 or args.max_video_seconds <= 0:
        raise OpenHMRError("--port must be in 1-65535, --max-upload-mb at least 1 and --max-video-seconds positive.")
    print(f"openhmr: loading the model; the demo will be at http://{args.host}:{args.port} (Ctrl+C stops it)")
    serve(args.checkpoint, args.device, args.host, args.port, args.max_upload_mb, args.max_video_seconds)
    return 0


def _smoothing(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


MAX_FOCAL_PX = 1e6  # a 1-degree field of view on a 17,000-pixel photo; beyond it, a typo


def _focal(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= MAX_FOCAL_PX:  # also false for NaN
        raise argparse.ArgumentTypeError(f"must be a focal length in pixels, above 0 and at most {MAX_FOCAL_PX:g}; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openhmr",
        description="Recover a 3D human (keypoints, joints, mesh, camera) from one photo.",
    )
    parser.add_argument("--version", action="version", version=f"openhmr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    body.set_defaults(run=_body_command)

    mocap = commands.add_parser(
        "mocap",
        help="convert motion capture into a pose bank",
        description="Convert motion-capture clips (CMU .bvh, .amc with its .asf, AMASS .npz; "
        "folders are searched) into one pose bank .npz for a body model: near-duplicate frames "
        "dropped, each body turned to face the camera, every pose tagged with its clip.",
    )
    mocap.add_argument("files", nargs="+", help="motion files or folders")
    mocap.add_argument("--out", required=True, help="pose bank to write (.npz)")
    mocap.add_argument("--body-model", default="anny", help="'anny' (CMU clips) or an SMPL file (AMASS clips)")
    mocap.add_argument("--min-degrees", type=float, default=5.0, help="keep a frame once a joint turned this much (default: 5)")
    mocap.add_argument("--asf", help="skeleton for .amc clips (default: <subject>.asf beside each clip)")
    mocap.add_argument("--preview", help="also render frames of the first clip into this PNG strip")
    mocap.set_defaults(run=_mocap_command)

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
    synth.set_defaults(run=_synth_command)

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
    predict.add_argument("--refine", choices=("fit", "eft"),
                         help="fit each body to its 2D evidence (MediaPipe's landmarks, or --keypoints): "
                              "'fit' optimises the body, 'eft' fine-tunes the network on the person; kept only when it helps")
    predict.add_argument("--focal", type=_focal, help="focal length in pixels (default: the image diagonal)")
    predict.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default: cpu")
    predict.add_argument("--batch-size", type=int, default=16, help="crops per forward pass (default: 16)")
    predict.add_argument("--save-mesh", choices=("obj", "ply", "glb"), help="also write each person's mesh")
    predict.add_argument("--side-view", action="store_true", help="also render the people from the side")
    predict.add_argument("--video-step", type=int, help="use every Nth video frame (default: 10; 1 with --bvh)")
    predict.add_argument("--bvh", action="store_true",
                         help="videos: follow one person through every frame and write OUT/<stem>.bvh (CMU skeleton, "
                              "the video's frame rate), OUT/<stem>_overlay.webm and OUT/<stem>_motion.json instead of per-frame files")
    predict.add_argument("--smoothing", type=_smoothing, default=0.5,
                         help="with --bvh: temporal smoothing strength in [0, 1] (One-Euro filter; 0 = none, default 0.5)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(run=_predict_command)

    train = commands.add_parser(
        "train",
        help="train HMR (Lightning; CPU by default)",
        description="Train HMR with a supervision regime (paired, partial, unpaired, 2d-only). "
        "Settings come from --config (TOML or JSON) and then KEY=VALUE overrides, e.g. "
        "`openhmr train data.poses=bank.npz regime=unpaired steps=2000`; `data.*` keys reach the "
        "data section. With no data.train, a synthetic set is rendered from the pose bank "
        "data.poses, its clips split into train / test / discriminator. Writes checkpoints, "
        "safetensors weights and TensorBoard logs into out_dir (default runs/default).",
    )
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings (see docs/training.md)")
    train.add_argument("--config", help="TOML or JSON file of settings")
    train.add_argument("--resume", help="Lightning checkpoint (.ckpt) or run folder (its checkpoints/last.ckpt) to continue from")
    train.set_defaults(run=_train_command)

    ev = commands.add_parser(
        "eval",
        help="measure a checkpoint on a labelled set",
        description="Evaluate a weights file (.safetensors from `openhmr train`) on a SPIN-style "
        "annotations .npz: MPJPE, PA-MPJPE, PVE (when parameters are known), 2D PCK@0.05/0.1 "
        "of the box size, per-joint errors, and the monster rate (with --poses). On real photos "
        "with 2D labels (--protocol lsp: an LSP or LSP-extended folder, e.g. lsp:test; "
        "--protocol coco: a COCO keypoint .json): PCK@0.05/0.1 of the person's box, overall and "
        "per joint. Prints a table and writes JSON.",
    )
    ev.add_argument("--checkpoint", required=True, help="weights .safetensors")
    ev.add_argument("--data", required=True, help="annotations .npz (SPIN fields; openhmr synth output), an LSP folder[:train|test], or a COCO .json")
    ev.add_argument("--protocol", default="synth", choices=("synth", "h36m-p1", "h36m-p2", "3dpw", "lsp", "coco"), help="default: synth")
    ev.add_argument("--body-model", help="'anny' or an SMPL file (default: the checkpoint's, 'anny' only)")
    ev.add_argument("--joint-regressor", help=".npy (K, V) joints from vertices, e.g. J_regressor_h36m.npy for SMPL")
    ev.add_argument("--poses", help="pose bank of real poses for the monster rate")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--out", help="JSON file to write (default: CHECKPOINT-NAME.eval-PROTOCOL.json in the working folder)")
    ev.set_defaults(run=_eval_command)

    serve = commands.add_parser(
        "serve",
        help="web demo: photo -> 3D viewer, video -> BVH",
        description="Serve a web page (Gradio) where a photo is dropped and its people come back as an "
        "overlay, an interactive 3D view, JSON and meshes (optionally refined by fitting), and where a "
        "video becomes an overlay video and a BVH on the CMU skeleton. Requests are queued and run one "
        "at a time on one model. Listens on 127.0.0.1 only unless --host says otherwise.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=7860, help="default: 7860")
    serve.add_argument("--checkpoint", help="weights .safetensors (default: the shipped Anny model)")
    serve.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default: cpu")
    serve.add_argument("--max-upload-mb", type=int, default=100, help="largest upload accepted (default: 100)")
    serve.add_argument("--max-video-seconds", type=float, default=20.0, help="longest video accepted (default: 20)")
    serve.set_defaults(run=_serve_command)

    from openhmr.cli_fit import add_fit_commands
    from openhmr.cli_masks import add_mask_commands

    add_fit_commands(commands)
    add_mask_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if args.command == "predict" and args.refine and args.no_detector:
        parser.error("--refine fits the body to MediaPipe's landmarks or to --keypoints; it cannot run with --no-detector.")
    if args.command == "predict" and args.bvh and args.keypoints:
        parser.error("--bvh follows the person MediaPipe finds (or --bbox) in each frame; it cannot take --keypoints.")
    if args.command == "predict" and args.bvh and args.video_step not in (None, 1):
        parser.error("--bvh estimates every frame; leave out --video-step.")
    try:
        return args.run(args)
    except OpenHMRError as e:
        print(f"openhmr: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("openhmr: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the machine, not openhmr: full disk, read-only or missing folder
        if e.errno not in _ENVIRONMENT_ERRNOS:
            raise
        print(f"openhmr: error: cannot use {e.filename or 'a file'}: {e.strerror}.", file=sys.stderr)
        return 1


_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                       errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
