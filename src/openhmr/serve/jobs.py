"""What the web demo does for one request, without any web framework: a photo (or a video)
in, files out, each request in its own fresh folder. Bad inputs raise
:class:`openhmr.errors.OpenHMRError` with one sentence for the user."""

from __future__ import annotations

import atexit
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from openhmr.errors import OpenHMRError
from openhmr.predict.images import ImageError

# The GLB viewer's frame is y up, looking down -z: the camera frame turned about x.
CAMERA_TO_VIEWER = np.diag([1.0, -1.0, -1.0])
VIEWER_COLOUR = (166, 189, 219, 255)


@dataclasses.dataclass
class PhotoResult:
    overlay: Path  # PNG
    viewer: Path  # GLB of every person, y up
    json: Path
    meshes: list[Path]  # OBJ per person, camera frame
    summary: str


@dataclasses.dataclass
class VideoResult:
    overlay: Path  # WebM
    bvh: Path
    json: Path
    summary: str


class Workspace:
    """One folder per request under a private root; folders older than ``keep_s`` are removed
    as new requests arrive, so what one user uploaded or got back is never in another's folder."""

    def __init__(self, keep_s: float = 3600.0):
        self.root = Path(tempfile.mkdtemp(prefix="openhmr-serve-"))  # 0700: this user's alone
        self.gradio_cache = self.root / "gradio"  # Gradio's uploads and results (it ages them itself)
        self.gradio_cache.mkdir(mode=0o700)
        self.torch_cache = self.root / "torch"  # torch's compiler cache folder (nothing is compiled)
        self.keep_s = keep_s
        atexit.register(self.close)  # also when the server ends some other way than close()

    def new(self) -> Path:
        now = time.time()
        for old in self.root.iterdir():
            if old not in (self.gradio_cache, self.torch_cache) and now - old.stat().st_mtime > self.keep_s:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def viewer_glb(path: Path, vertices: list[np.ndarray], faces: np.ndarray) -> Path:
    """All people as one GLB, y up, for the browser's 3D viewer."""
    import trimesh

    from openhmr.io import atomic_path

    meshes = [trimesh.Trimesh(v @ CAMERA_TO_VIEWER.T, faces, process=False) for v in vertices]
    for mesh in meshes:
        mesh.visual.vertex_colors = np.tile(VIEWER_COLOUR, (len(mesh.vertices), 1))
    with atomic_path(path) as tmp:
        trimesh.util.concatenate(meshes).export(tmp, file_type="glb")
    return path


def check_photo(image_path: str | Path | None) -> None:
    """One sentence for an upload that is not a usable photo, from its header alone."""
    from openhmr.predict.images import check_image_header

    if not image_path:
        raise OpenHMRError("Upload a photo first.")
    try:
        check_image_header(image_path)
    except ImageError as e:
        raise OpenHMRError(f"This file cannot be used: {e}.") from None


def photo_job(model, image_path: str | Path, work: Path, refine: bool = False, upright: bool = False,
              flip: bool = True) -> PhotoResult:  # fmt: skip
    """Predict every person in the photo: overlay, GLB for the viewer, JSON and OBJ meshes.
    ``upright``: each person's crop turned upright first (``refine`` fits from that answer); ``flip``:
    each answer averaged with the one on the mirrored crop (``predict --flip``)."""
    from openhmr.predict.images import load_image
    from openhmr.predict.outputs import write_outputs

    check_photo(image_path)
    try:
        image = load_image(image_path)
    except ImageError as e:  # a header that promises more than the file holds
        raise OpenHMRError(f"This file cannot be used: {e}.") from None
    prediction = model.predict(image, name=Path(image_path).name, refine="fit" if refine else None, upright=upright,
                               flip=flip)
    if not prediction.people:
        raise OpenHMRError("No person found in this photo.")
    faces = model.body.faces.cpu().numpy()
    written = write_outputs(work, "photo", image, prediction, faces, mesh_format="obj")
    viewer = viewer_glb(work / "people.glb", [p.vertices for p in prediction.people], faces)
    refined = sum(p.refined for p in prediction.people)
    summary = f"{len(prediction.people)} person(s) found" + (f"; {refined} refined by fitting" if refine else "")
    if upright:
        summary += "; crops turned upright" + ("; the fit starts from their answer" if refine else "")
    if flip and not refine:
        summary += "; averaged with the mirrored crop"
    return PhotoResult(
        overlay=work / "photo_overlay.png", viewer=viewer, json=work / "photo.json",
        meshes=[p for p in written if p.suffix == ".obj"], summary=summary,
    )


def video_job(model, video_path: str | Path, work: Path, smoothing: float = 0.5, max_seconds: float = 20.0,
              progress: bool = True) -> VideoResult:
    """Follow one person through the video: overlay video, BVH on the CMU skeleton, motion JSON."""
    import cv2

    from openhmr.motion.video import video_to_motion

    if not video_path:
        raise OpenHMRError("Upload a video first.")
    capture = cv2.VideoCapture(str(video_path))
    try:
        if not capture.isOpened() or not capture.read()[0]:
            raise OpenHMRError("This file cannot be used: not a video OpenCV can read.")
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS) or 30.0
        width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    finally:
        capture.release()
    if frames > max_seconds * fps:
        raise OpenHMRError(f"The video is {frames / fps:.0f} s long; this demo takes up to {max_seconds:.0f} s. Trim it first.")
    if width * height > 8_300_000:  # 4K UHD
        raise OpenHMRError(f"The video is {width:.0f}x{height:.0f}; this demo takes up to 4K (3840x2160).")
    try:
        bvh, overlay, document = video_to_motion(model, Path(video_path), work, "motion", smoothing, progress=progress,
                                                 max_frames=round(max_seconds * fps))  # for files that hide their length
    except ImageError as e:
        raise OpenHMRError(f"This file cannot be used: {e}.") from None
    found = json.loads(document.read_text())["found"]
    return VideoResult(overlay=overlay, bvh=bvh, json=document,
                       summary=f"Person followed in {sum(found)} of {len(found)} frames")
