"""``openhmr serve``: the web demo."""

from __future__ import annotations

import argparse

from openhmr.errors import OpenHMRError


def add_parser(commands) -> None:
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
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.serve.app import serve

    if not 0 < args.port < 65536 or args.max_upload_mb < 1 or args.max_video_seconds <= 0:
        raise OpenHMRError("--port must be in 1-65535, --max-upload-mb at least 1 and --max-video-seconds positive.")
    print(f"openhmr: loading the model; the demo will be at http://{args.host}:{args.port} (Ctrl+C stops it)")
    serve(args.checkpoint, args.device, args.host, args.port, args.max_upload_mb, args.max_video_seconds)
    return 0
