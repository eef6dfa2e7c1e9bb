"""``openhmr predict clip.mp4 --bvh``: one person followed through every frame of a video,
the poses smoothed over time, written as a CMU BVH, an overlay video and a motion JSON."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from openhmr.detect.mediapipe import Detection
from openhmr.errors import OpenHMRError
from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from openhmr.io import WriteError
from openhmr.mocap.cmu_bvh import BodyMotion, skeleton, to_bvh_channels
from openhmr.motion.smooth import smooth_positions, smooth_rotations
from openhmr.motion.track import Follower
from openhmr.predict.images import ImageError
from openhmr.predict.inputs import is_video
from openhmr.predict.jobs import PredictJob, Report

OVERLAY_CODEC = "VP80"  # WebM VP8: written by OpenCV's wheel and played by every browser


def video_fps(path: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return fps if 0 < fps < 1000 else 30.0


def tracked_boxes(model):
    """``boxes(frame) -> [Detection]`` following people from frame to frame by their landmarks'
    regions, as MediaPipe Pose does in video (:mod:`openhmr.detect.tracking`, which reads
    MediaPipe's own model files); when the model has no detector, its whole-image fallback."""
    if model.detector is None:
        return model.detect
    from openhmr.detect.people import PeopleFinder
    from openhmr.detect.tracking import RegionTracker

    tracker = RegionTracker(PeopleFinder())

    def boxes(frame: np.ndarray) -> list[Detection]:
        found = (p.detection(frame.shape[1], frame.shape[0]) for p in tracker(frame))
        return [d for d in found if d is not None]

    return boxes


def estimate(model, path: Path, boxes_for=None, focal_length: float | None = None, refine: str | None = None,
             progress: bool = True, max_frames: int | None = None, tracking: bool = True) -> tuple[BodyMotion, np.ndarray, list]:
    """Every frame of the video at ``path`` -> the followed person's raw :class:`BodyMotion`,
    the camera K (3, 3) and each frame's box (None where nobody was followed).
    ``boxes_for(image) -> [Detection]`` replaces the detector (a fixed --bbox, say); otherwise
    people are followed by their landmarks' regions (``tracking``; False: the detector on every
    frame). A video of more than ``max_frames`` frames is refused (:class:`ImageError`)."""
    from openhmr.predict.inputs import video_frames

    fps = video_fps(path)
    follower = Follower(patience=max(1, round(fps)))  # a second without the person: start again
    rotmats, translations, shapes, boxes, K = [], [], [], [], None
    boxes_for = boxes_for or (tracked_boxes(model) if tracking else model.detect)
    frames = video_frames(path, 1)
    for index, (_, image) in enumerate(tqdm(frames, desc=f"{path.name}", unit="frame", disable=not progress, leave=False)):
        if max_frames is not None and index >= max_frames:
            raise ImageError(f"longer than {max_frames} frames")
        picked = follower(boxes_for(image))
        boxes.append(picked.bbox if picked else None)
        if picked is None:
            for seen in (rotmats, translations, shapes):
                seen.append(None)
            continue
        person = model.predict(image, [picked], focal_length, refine=refine).people[0]
        rotmats.append(axis_angle_to_matrix(torch.from_numpy(person.pose).float()))
        translations.append(torch.from_numpy(person.translation).float())
        shapes.append(torch.from_numpy(person.shape).float())
        K = person.K
    found = np.array([r is not None for r in rotmats])
    if not found.any():
        raise ImageError("no person found in any frame")
    seen = np.flatnonzero(found)
    nearest = seen[np.abs(np.arange(len(found))[:, None] - seen[None]).argmin(axis=1)]
    motion = BodyMotion(
        torch.stack([rotmats[i] for i in nearest]),
        torch.stack([translations[i] for i in nearest]),
        torch.stack([shapes[i] for i in seen]).median(dim=0).values,  # one body for the clip
        fps,
        found,
    )
    return motion, K, boxes


def smoothed(motion: BodyMotion, strength: float) -> BodyMotion:
    """The motion with rotations and translation smoothed over time (see :mod:`.smooth`)."""
    return BodyMotion(
        smooth_rotations(motion.rotmats, motion.fps, strength),
        smooth_positions(motion.translation, motion.fps, strength),
        motion.shape, motion.fps, motion.found,
    )


@torch.no_grad()
def pose_frames(body, motion: BodyMotion, batch: int = 64):
    """Vertices (T, V, 3) and joints (T, J, 3) of the motion, camera frame, metres."""
    vertices, joints = [], []
    for start in range(0, motion.num_frames, batch):
        rot = motion.rotmats[start : start + batch].float()
        shape = motion.shape.float().expand(rot.shape[0], -1)
        out = body.forward_rotmat(rot[:, 0], rot[:, 1:], shape)
        t = motion.translation[start : start + batch, None].float()
        vertices.append(out.vertices + t)
        joints.append(out.joints + t)
    return torch.cat(vertices), torch.cat(joints)


def write_bvh_file(body, motion: BodyMotion, path: Path) -> np.ndarray:
    """Write ``path``; returns the root shift (3,) cm (see :func:`cmu_bvh.to_bvh_channels`)."""
    from openhmr.mocap.bvh import write_bvh

    rest, hip_height = skeleton(body, motion.shape)
    local, root, shift = to_bvh_channels(body, motion, hip_height)
    write_bvh(path, rest, local, root, motion.fps)
    return shift


def write_overlay_video(path: Path, source: Path, body, motion: BodyMotion, K: np.ndarray, progress: bool = True) -> Path:
    """The smoothed body over every frame of ``source``, as a WebM video at its frame rate."""
    import cv2

    from openhmr.io import atomic_path
    from openhmr.predict.inputs import video_frames
    from openhmr.predict.outputs import overlay_mesh
    from openhmr.render import MeshRenderer

    renderer = MeshRenderer()
    faces = body.faces.cpu().numpy()
    vertices, _ = pose_frames(body, motion)
    with atomic_path(path) as tmp:
        writer = None
        try:
            for t, (_, image) in enumerate(tqdm(video_frames(source, 1), desc="overlay", unit="frame", disable=not progress, leave=False)):
                if t >= motion.num_frames:
                    break
                frame = overlay_mesh(image, vertices[t].numpy(), faces, K, renderer)
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*OVERLAY_CODEC), motion.fps, size)
                    if not writer.isOpened():
                        raise OpenHMRError("OpenCV cannot write WebM (VP8) video here.")
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
        finally:
            renderer.close()
            if writer is not None:
                writer.release()
    return path


def motion_document(body, motion: BodyMotion, raw_found: np.ndarray, boxes: list, K: np.ndarray, shift_cm: np.ndarray,
                    source: str, checkpoint: str, strength: float, bvh_name: str) -> dict:
    """The ``<stem>_motion.json`` document: per-frame pose (axis-angle) and translation."""
    r = lambda a, d: np.round(np.asarray(a, dtype=np.float64), d).tolist()
    return {
        "video": source,
        "checkpoint": checkpoint,
        "body_model": body.name,
        "fps": motion.fps,
        "num_frames": motion.num_frames,
        "smoothing": strength,
        "bvh": bvh_name,
        "bvh_root_shift_cm": r(shift_cm, 4),
        "joint_names": list(body.joint_names),
        "shape": r(motion.shape, 5),
        "K": r(K, 4),
        "found": [bool(f) for f in raw_found],
        "frames_lost": int((~np.asarray(raw_found, dtype=bool)).sum()),
        "bbox": [None if b is None else r(b, 2) for b in boxes],
        "pose": r(matrix_to_axis_angle(motion.rotmats.float()), 5),
        "translation": r(motion.translation, 5),
    }


def video_to_motion(model, path: Path, out_dir: Path, stem: str, strength: float = 0.5, boxes_for=None,
                    focal_length: float | None = None, refine: str | None = None, progress: bool = True,
                    max_frames: int | None = None) -> list[Path]:
    """The whole job for one video: ``<stem>.bvh``, ``<stem>_overlay.webm`` and
    ``<stem>_motion.json`` in ``out_dir``; returns them. Nothing is left half-written."""
    from openhmr.io import write_json

    raw, K, boxes = estimate(model, path, boxes_for, focal_length, refine, progress, max_frames)
    motion = smoothed(raw, strength)
    written: list[Path] = []
    try:
        bvh = out_dir / f"{stem}.bvh"
        shift = write_bvh_file(model.body, motion, bvh)
        written.append(bvh)
        written.append(write_overlay_video(out_dir / f"{stem}_overlay.webm", path, model.body, motion, K, progress))
        document = motion_document(model.body, motion, raw.found, boxes, K, shift, str(path), model.checkpoint, strength, bvh.name)
        written.append(write_json(out_dir / f"{stem}_motion.json", document))
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return written


def motions_from_videos(model, files: list[Path], job: PredictJob, report: Report) -> list[list[Path]]:
    """Each video of ``files`` -> a BVH, an overlay video and a motion JSON in ``job.out_dir``,
    following one person (``job.bbox``'s, or the detector's); returns the files of each video done."""
    boxes_for = (lambda image: [Detection(job.bbox, 1.0)]) if job.bbox else None
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        for path in files:
            if not is_video(path):
                report("skipped", str(path), "--bvh needs a video")
                continue
            try:
                written.append(video_to_motion(model, path, job.out_dir, path.stem, job.smoothing, boxes_for, job.focal,
                                           job.refine, progress=job.progress))  # fmt: skip
            except ImageError as e:
                report("skipped", str(path), str(e))
            except WriteError as e:  # video_to_motion removed its partial files
                report("failed", str(path), str(e))
    return written
