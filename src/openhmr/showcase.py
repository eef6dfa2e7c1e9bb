"""Pictures of the body: a named pose as mesh and render (``openhmr body``), pose strips of a
bank (``openhmr mocap --preview``), keypoint grids of synthetic sets (``openhmr synth --grid``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from openhmr.body import load_body_model
from openhmr.body.poses import named_pose
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import intrinsics
from openhmr.geometry.rotations import axis_angle_to_matrix
from openhmr.io import write_mesh, write_png


def _framing(vertices: torch.Tensor, image_size: int, fill: float = 0.85) -> tuple[torch.Tensor, torch.Tensor]:
    """Translation (3,) and intrinsics K (3, 3) that centre ``vertices`` (N, 3) and fill ``fill``
    of the image height."""
    focal = 2.0 * image_size
    lo, hi = vertices.min(0).values, vertices.max(0).values
    centre = (lo + hi) / 2
    depth = focal * float(hi[1] - lo[1]) / (fill * image_size) + float(hi[2] - lo[2]) / 2
    translation = torch.tensor([-centre[0], -centre[1], depth - centre[2]])
    K = intrinsics(torch.tensor(focal), torch.tensor([image_size / 2, image_size / 2]))
    return translation, K


def render_pose_strip(
    body, global_orient, body_pose, path: Path, frames: int = 6, size: int = 256, yaw_degrees: float = 70.0
) -> Path:
    """Render ``frames`` evenly spaced poses side by side into one PNG strip, each body turned
    ``yaw_degrees`` about the vertical so that a gait shows in profile.

    global_orient (N, 3), body_pose (N, J-1, 3) axis-angle (numpy or torch).
    """
    import numpy as np

    from openhmr.render import render_mesh

    go, bp = torch.as_tensor(global_orient), torch.as_tensor(body_pose)
    picks = np.linspace(0, go.shape[0] - 1, min(frames, go.shape[0])).round().astype(int)
    turn = axis_angle_to_matrix(torch.tensor([0.0, math.radians(yaw_degrees), 0.0]))
    with torch.no_grad():
        out = body(turn @ axis_angle_to_matrix(go[picks]), bp[picks])
    tiles = []
    for vertices in out.vertices:
        translation, K = _framing(vertices, size)
        tiles.append(render_mesh((vertices + translation).numpy(), body.faces.numpy(), K.numpy(), (size, size)))
    return write_png(path, np.concatenate(tiles, axis=1))


def pose_and_render(
    body_model: str = "anny",
    pose: str = "walk",
    shape: list[float] | None = None,
    yaw_degrees: float = 25.0,
    out_dir: Path = Path("outputs"),
    image_size: int = 512,
    mesh_format: str = "obj",
) -> list[Path]:
    """Write ``body_<pose>.<mesh_format>`` and ``body_<pose>.png`` into ``out_dir``."""
    body = load_body_model(body_model)
    try:
        body_pose = named_pose(body, pose)
    except ValueError as e:
        raise OpenHMRError(str(e)) from None
    shape_t = None
    if shape is not None:
        if len(shape) != body.shape_dim:
            raise OpenHMRError(f"--shape needs {body.shape_dim} values for {body.name}, got {len(shape)}.")
        shape_t = torch.tensor([shape], dtype=body.mean_shape.dtype)
    yaw = torch.tensor([[0.0, math.radians(yaw_degrees), 0.0]])
    with torch.no_grad():
        out = body(axis_angle_to_matrix(yaw), body_pose, shape_t)
    vertices = out.vertices[0]

    translation, K = _framing(vertices, image_size)

    from openhmr.render import render_mesh

    rgb = render_mesh((vertices + translation).numpy(), body.faces.numpy(), K.numpy(), (image_size, image_size))
    out_dir = Path(out_dir)
    mesh_path = write_mesh(out_dir / f"body_{pose}.{mesh_format}", vertices.numpy(), body.faces.numpy())
    png_path = write_png(out_dir / f"body_{pose}.png", rgb)
    return [mesh_path, png_path]


def synth_grid(annotations: str | Path, out: str | Path, count: int = 16, columns: int = 8) -> Path:
    """The first ``count`` images of a synthetic set (``annotations.npz`` of ``openhmr synth``)
    in a grid of ``columns``, their keypoints drawn: green seen, red hidden. Writes ``out`` (JPEG or PNG)."""
    from PIL import Image, ImageDraw

    annotations = Path(annotations)
    with np.load(annotations, allow_pickle=False) as f:
        names, part = f["imgname"][:count], f["part"][:count]
    tiles = []
    for name, keypoints in zip(names, part):
        with Image.open(annotations.parent / str(name)) as im:
            tile = im.convert("RGB")
        draw = ImageDraw.Draw(tile)
        for x, y, seen in keypoints:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(40, 220, 40) if seen > 0 else (230, 40, 40))
        tiles.append(np.asarray(tile))
    rows = [np.concatenate(tiles[i : i + columns] + [np.zeros_like(tiles[0])] * (columns - len(tiles[i : i + columns])), 1)
            for i in range(0, len(tiles), columns)]  # fmt: skip
    Image.fromarray(np.concatenate(rows, 0)).save(out, quality=90)
    return Path(out)
