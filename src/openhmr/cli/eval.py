"""``openhmr eval``: measure a checkpoint on a labelled set."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands) -> None:
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
    ev.add_argument("--flip", action="store_true",
                    help="average each answer with the one on the mirrored crop, as `predict` does by default (the "
                         "network's single pass otherwise)")
    ev.add_argument("--upright", action=argparse.BooleanOptionalAction, default=None,
                    help="crops turned upright first, as `predict --upright` cuts them (default: as the network was trained)")
    ev.add_argument("--out", help="JSON file to write (default: CHECKPOINT-NAME.eval-PROTOCOL.json in the working folder)")
    ev.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.body import load_body_model
    from openhmr.eval.evaluate import (
        PROTOCOLS_2D,
        evaluate,
        evaluate_2d,
        format_table,
        read_eval_set,
    )
    from openhmr.io import writable_file, write_json
    from openhmr.mocap.pose_bank import PoseBank
    from openhmr.nets.weights_io import load_hmr, read_metadata

    # The inputs are read first: a bad --data, --checkpoint or --out is reported before any model loads.
    out = writable_file(args.out or f"{Path(args.checkpoint).stem}.eval-{args.protocol}.json")
    arch, _ = read_metadata(args.checkpoint)
    annotations = read_eval_set(args.data, args.protocol)
    body = load_body_model(args.body_model or arch["body_model"])
    hmr = load_hmr(args.checkpoint, body)
    if args.protocol in PROTOCOLS_2D:
        result = evaluate_2d(hmr, annotations, args.protocol, args.batch_size, upright=args.upright, flip=args.flip)
    else:
        bank = PoseBank.load(args.poses) if args.poses else None
        result = evaluate(hmr, annotations, args.protocol, args.batch_size, args.joint_regressor, bank, upright=args.upright,
                          flip=args.flip)  # fmt: skip
    result["checkpoint"] = str(args.checkpoint)
    result["data"] = str(args.data)
    result["flip"], result["upright"] = args.flip, hmr.reads_upright(args.upright)
    print(format_table(result))
    print(write_json(out, result))
    return 0
