"""``openhmr export``: the networks as ONNX files for other runtimes."""

from __future__ import annotations

import argparse


def add_parser(commands) -> None:
    export = commands.add_parser(
        "export",
        help="write the network and the person detector as ONNX files",
        description="Write the HMR network (encoder + IEF regressor, crops -> θ: camera, rotations, shape; the "
        "body model stays in openhmr) and MediaPipe's person detector as ONNX files, with onnx.json describing "
        "their inputs and outputs. `openhmr predict --runtime onnx` runs them with onnxruntime.",
    )
    export.add_argument("--onnx", required=True, metavar="DIR", help="folder to write hmr.onnx, pose_detector.onnx and onnx.json into")
    export.add_argument("--checkpoint", help="weights .safetensors (default: the shipped Anny model)")
    export.add_argument("--body-model", default="anny", help="'anny' (default) or an SMPL file: the checkpoint's body")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.io import writable_folder
    from openhmr.predict.onnx import export_onnx
    from openhmr.predict.predictor import load_model

    folder = writable_folder(args.onnx, "--onnx")
    model = load_model(args.checkpoint, args.body_model, detector=None)
    print(export_onnx(model, folder))
    return 0
