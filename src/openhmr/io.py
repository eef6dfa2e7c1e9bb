"""Writers. Every file is written under a temporary name in its folder, then renamed, so a
reader never sees a half-written file and an interrupted run leaves none behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, data) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)


def write_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Mesh (V, 3) float, (F, 3) int as OBJ, PLY or GLB (by suffix), through trimesh."""
    import trimesh

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("obj", "ply", "glb"):
        raise ValueError(f"Unsupported mesh format {kind!r}: use obj, ply or glb.")
    mesh = trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=False)
    with atomic_path(path) as tmp:
        mesh.export(tmp, file_type=kind)
    return path


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """RGB image (H, W, 3) uint8 as PNG."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(tmp, format="PNG")
    return Path(path)
