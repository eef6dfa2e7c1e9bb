"""Files written per input frame, each atomically: ``<stem>.json``, ``<stem>_overlay.png``
(the meshes rendered over the photo at the predicted camera, keypoints drawn),
``<stem>_side.png`` (optional) and ``<stem>_person<i>.<obj|ply|glb>`` (optional). When any of
them fails, those already written for the frame are removed: no frame is half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openhmr.predict.predictor import Prediction

MAX_OVERLAY_SIDE = 2048  # larger photos get a downscaled overlay
# COCO-17 limbs, for drawing.
SKELETON = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
            (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)]  # fmt: skip


def _joined_mesh(prediction: Prediction, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.concatenate([p.vertices for p in prediction.people])
    offsets = np.cumsum([0] + [len(p.vertices) for p in prediction.people[:-1]])
    return vertices, np.concatenate([faces + o for o in offsets])


def overlay_mesh(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, renderer=None) -> np.ndarray:
    """(H', W', 3) uint8: the mesh (V, 3), camera frame, drawn half-transparent over ``image``
    (H, W, 3) seen by K (3, 3); images over MAX_OVERLAY_SIDE are downscaled first.
    ``renderer``: a :class:`openhmr.render.MeshRenderer` to reuse (default: a fresh context)."""
    from PIL import Image

    from openhmr.render import render_mesh

    height, width = image.shape[:2]
    scale = min(1.0, MAX_OVERLAY_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    background = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)) if scale < 1 else image
    if len(vertices) == 0:
        return background.copy()
    K = np.array(K, dtype=np.float64)
    K[:2] *= scale
    rendered = (renderer or render_mesh)(vertices, faces, K, size, background)
    # Half-transparent body, so the photo stays readable underneath.
    blended = (0.6 * rendered + 0.4 * background).astype(np.uint8)
    return np.where((rendered != background).any(axis=2, keepdims=True), blended, background)


def overlay(image: np.ndarray, prediction: Prediction, faces: np.ndarray, renderer=None) -> np.ndarray:
    """(H', W', 3) uint8: the people's meshes over ``image`` and their COCO-17 keypoints
    (``renderer``: a :class:`openhmr.render.MeshRenderer` to reuse, else a fresh context)."""
    from PIL import Image, ImageDraw

    if not prediction.people:
        return overlay_mesh(image, np.zeros((0, 3)), faces, np.eye(3))
    vertices, all_faces = _joined_mesh(prediction, faces)
    canvas = Image.fromarray(overlay_mesh(image, vertices, all_faces, prediction.people[0].K, renderer))
    size = canvas.size
    scale = size[0] / image.shape[1]
    draw = ImageDraw.Draw(canvas)
    radius = max(2, round(max(size) / 250))
    for person in prediction.people:
        points = person.keypoints_2d[:, :2] * scale
        seen = person.keypoints_2d[:, 2] > 0
        for a, b in SKELETON:
            if seen[a] and seen[b]:
                draw.line([tuple(points[a]), tuple(points[b])], fill=(255, 200, 0), width=max(1, radius // 2))
        for (x, y), ok in zip(points, seen):
            if ok:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 40, 40))
        x, y, w, h = (v * scale for v in person.bbox)
        draw.rectangle([x, y, x + w, y + h], outline=(40, 220, 40), width=max(1, radius // 2))
    return np.asarray(canvas)


def side_view(prediction: Prediction, faces: np.ndarray, size: int = 512, renderer=None) -> np.ndarray:
    """The people seen from their right: turned 90° about the vertical through their centre
    (``renderer`` as for :func:`overlay`)."""
    from openhmr.render import render_mesh

    vertices, all_faces = _joined_mesh(prediction, faces)
    centre = vertices.mean(axis=0)
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # about camera y
    turned = (vertices - centre) @ turn.T
    extent = np.abs(turned[:, :2]).max() * 2.4 + 1e-6
    focal = 1000.0
    distance = focal * extent / size
    K = np.array([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]])
    return (renderer or render_mesh)(turned + [0.0, 0.0, distance], all_faces, K, (size, size))


def write_outputs(
    out_dir: Path, stem: str, image: np.ndarray, prediction: Prediction, faces: np.ndarray,
    mesh_format: str | None = None, side: bool = False, renderer=None,
) -> list[Path]:
    """Write one frame's files; returns them. On any failure, removes what it wrote.
    ``renderer``: a :class:`openhmr.render.MeshRenderer` kept for many frames (else each
    picture makes its own GL context)."""
    from openhmr.io import write_json, write_mesh, write_png

    written: list[Path] = []
    try:
        mesh_names: list[str | None] = [None] * len(prediction.people)
        if mesh_format:
            for i, person in enumerate(prediction.people):
                written.append(write_mesh(out_dir / f"{stem}_person{i}.{mesh_format}", person.vertices, faces))
                mesh_names[i] = written[-1].name
        written.append(write_png(out_dir / f"{stem}_overlay.png", overlay(image, prediction, faces, renderer)))
        if side and prediction.people:
            written.append(write_png(out_dir / f"{stem}_side.png", side_view(prediction, faces, renderer=renderer)))
        written.append(write_json(out_dir / f"{stem}.json", prediction.to_dict(mesh_names)))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written
