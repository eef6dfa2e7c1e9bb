"""The Gradio app: a photo tab (overlay, 3D viewer, JSON and meshes to download, "refine",
"upright" and "flip" switches) and a video tab (overlay video, BVH, motion JSON). One model in memory; requests are
queued and run one at a time (they share the model and the CPU)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from openhmr.errors import OpenHMRError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MODEL_QUEUE = "model"  # every event that uses the model waits in this one queue


def private_workspace():
    """The server's private folder (0700, removed at exit), made before Gradio or torch's
    compiler is imported: both fix their folders in the system temp folder at import unless
    told otherwise, and Gradio copies every upload and result into its own."""
    from openhmr.serve.jobs import Workspace

    workspace = Workspace()
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.gradio_cache)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(workspace.torch_cache))  # roma imports torch._dynamo
    return workspace


def build_app(model, max_video_seconds: float = 20.0, examples: Path | None = EXAMPLES, workspace=None):
    """The gr.Blocks app around a loaded :class:`openhmr.predict.predictor.Model` (``workspace``:
    from :func:`private_workspace`, made here when not given)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    workspace = workspace or private_workspace()
    import gradio as gr

    from openhmr.serve.jobs import check_photo, photo_job, video_job

    def on_preview(image_path):
        """The upload, shown once its header has been checked (Gradio never decodes it)."""
        if not image_path:
            return None
        try:
            check_photo(image_path)
        except OpenHMRError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return image_path

    def on_photo(image_path, refine, upright, flip):
        try:
            result = photo_job(model, image_path, workspace.new(), refine, upright, flip)
        except OpenHMRError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return str(result.overlay), str(result.viewer), str(result.json), [str(p) for p in result.meshes], result.summary

    # Gradio finds a progress bar by a gr.Progress default argument (its documented pattern);
    # track_tqdm shows the frame loop's bar.
    def on_video(video_path, smoothing, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        try:
            result = video_job(model, video_path, workspace.new(), smoothing, max_video_seconds)
        except OpenHMRError as e:
            raise gr.Error(str(e), print_exception=False) from None
        return str(result.overlay), str(result.bvh), str(result.json), result.summary

    with gr.Blocks(title="openhmr", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown("# openhmr\nA 3D human from one photo (HMR on the free Anny body), or a motion from a video.")
        with gr.Tab("Photo"):
            with gr.Row():
                with gr.Column():
                    # A file, not gr.Image: Gradio would open (and for some modes decode) the upload
                    # before openhmr's checks, so a text file or a pixel bomb would reach it first.
                    photo = gr.File(label="Photo", file_types=["image"], type="filepath", elem_id="photo-input")
                    preview = gr.Image(label="Your photo", interactive=False, elem_id="photo-preview", height=320)
                    refine = gr.Checkbox(label="Refine: fit each body to the keypoints MediaPipe sees (slower)", value=False)
                    upright = gr.Checkbox(label="Upright: turn each person upright first (divers, gymnasts, people upside down; "
                                                "Refine starts from that answer)", value=model.upright)
                    flip = gr.Checkbox(label="Flip: also read the mirrored photo and average (twice the network's time)", value=True)
                    run_photo = gr.Button("Recover 3D", variant="primary", elem_id="run-photo")
                    if examples and examples.is_dir():
                        gr.Examples([[str(p)] for p in sorted(examples.glob("*.jpg")) + sorted(examples.glob("*.png"))], [photo])
                with gr.Column():
                    summary = gr.Markdown(elem_id="photo-summary")
                    overlay = gr.Image(label="Overlay", interactive=False, elem_id="photo-overlay")
                    viewer = gr.Model3D(label="3D (drag to turn)", elem_id="photo-viewer", height=420)
                    result_json = gr.File(label="Result JSON", elem_id="photo-json")
                    meshes = gr.File(label="Meshes (OBJ, camera frame)", file_count="multiple", elem_id="photo-meshes")
            photo.change(on_preview, photo, preview, show_progress="hidden")
            run_photo.click(on_photo, [photo, refine, upright, flip], [overlay, viewer, result_json, meshes, summary],
                            concurrency_id=MODEL_QUEUE, concurrency_limit=1)
        with gr.Tab("Video to BVH"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(label=f"Video (up to {max_video_seconds:.0f} s, one person followed)", sources=["upload"])
                    smoothing = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Smoothing (0 = none)")
                    run_video = gr.Button("Make the animation", variant="primary", elem_id="run-video")
                with gr.Column():
                    video_summary = gr.Markdown()
                    video_overlay = gr.Video(label="Overlay", interactive=False)
                    bvh = gr.File(label="BVH (CMU skeleton; Blender, Maya, MotionBuilder)")
                    motion_json = gr.File(label="Motion JSON")
            run_video.click(on_video, [video, smoothing], [video_overlay, bvh, motion_json, video_summary],
                            concurrency_id=MODEL_QUEUE, concurrency_limit=1)
    app.queue(max_size=32, default_concurrency_limit=1)
    app.workspace = workspace
    return app


def serve(checkpoint=None, device: str = "cpu", host: str = "127.0.0.1", port: int = 7860, max_upload_mb: int = 100,
          max_video_seconds: float = 20.0, block: bool = True):
    """Load the model once and serve the app; returns (app, url) when ``block`` is False."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise OpenHMRError("The web demo needs Gradio: pip install 'openhmr[serve]'.")
    workspace = private_workspace()
    from openhmr.predict.predictor import load_model

    model = load_model(checkpoint, device=device)
    model.detect(__import__("numpy").zeros((64, 64, 3), "uint8"))  # MediaPipe loaded before the first visitor
    app = build_app(model, max_video_seconds, workspace=workspace)
    if not block:
        return app, launch(app, host, port, max_upload_mb, block)
    # Ctrl+C or a plain `kill`: the uploads and results go with the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return app, launch(app, host, port, max_upload_mb, block)
    except KeyboardInterrupt:
        return app, None
    finally:
        app.close()
        app.workspace.close()


def launch(app, host: str = "127.0.0.1", port: int = 7860, max_upload_mb: int = 100, block: bool = True) -> str:
    """Start serving ``app``; returns its URL (at once when ``block`` is False)."""
    _, url, _ = app.launch(server_name=host, server_port=port, max_file_size=f"{max_upload_mb}mb", show_error=True,
                           prevent_thread_lock=not block, ssr_mode=False, quiet=not block, footer_links=[])
    return url
