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

from openhmr.errors import OpenHMRError


class WriteError(OpenHMRError):
    """A file could not be written: full disk, read-only folder, a folder in the way."""


def _write_error(path: Path, error: OSError) -> WriteError:
    if path.is_dir():
        return WriteError(f"Cannot write {path}: a folder of that name is in the way.")
    return WriteError(f"Cannot write {path}: {error.strerror or error}.")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.
    Any OSError while writing becomes a :class:`WriteError` naming ``path``; the temporary
    file never stays."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from None
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise _write_error(path, e) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, data) -> Path:
    """``data`` as strict JSON: NaN or infinity is refused (JSON has no such numbers)."""
    try:
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise WriteError(f"Cannot write {path}: the result holds NaN or infinity, which JSON cannot store.") from None
    with atomic_path(path) as tmp:
        tmp.write_text(text)
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


def writable_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a folder that exists and takes files (made when missing); a WriteError
    naming ``option`` otherwise, before any work starts. Probed with a real file: permission
    bits say nothing about full disks, read-only mounts or a root user."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise WriteError(f"{option} {path} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path) as probe:
            probe.write(b"openhmr")
            probe.flush()
    except OSError as e:
        raise WriteError(f"{option} {path} is not a folder openhmr can write to ({e.strerror or e}).") from None
    return path


def writable_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a file that can be written: not a folder, in a folder that takes files
    (made when missing); a WriteError naming ``option`` otherwise, before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{option} {path} is a folder; give a file name.")
    writable_folder(path.parent, f"{option}'s folder")
    return path
