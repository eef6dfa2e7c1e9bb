"""Training checkpoints that survive being killed: written through the project's atomic writer
(a temporary file in the same folder, then a rename), leftovers of a killed write removed at
start, and a resume that falls back to the newest checkpoint that still loads."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from openhmr.errors import OpenHMRError
from openhmr.io import atomic_path

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written beside their final name and renamed into place: a kill
    mid-write leaves the previous file whole (Lightning's own temp file may sit on another
    file system, where the final step is a copy)."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported by openhmr's checkpoint writer.")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


def remove_leftovers(out_dir: str | Path) -> list[Path]:
    """Delete the temporary files a killed write left in ``out_dir`` and its checkpoint and
    weights folders; returns what was removed."""
    removed = []
    for folder in (Path(out_dir), Path(out_dir) / "checkpoints", Path(out_dir) / "weights"):
        if folder.is_dir():
            for path in folder.glob(".*.part*"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def step_of(path: str | Path) -> int | None:
    """The batch step a checkpoint holds, or None when it cannot be read."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception:  # noqa: BLE001 - truncated, empty or foreign files all mean "unusable"
        return None


def resume_point(path: str | Path) -> tuple[Path | None, int]:
    """(checkpoint to resume from, its global step) for ``--resume path``.

    ``path`` may be a checkpoint or a run folder (its ``checkpoints/last.ckpt``). A checkpoint
    that does not load falls back to the newest ``step_*.ckpt`` beside it that does (said in the
    log); so does a missing ``last.ckpt`` (a kill between the two writes). A run killed before
    its first checkpoint gives (None, 0): it starts afresh, reusing its prepared data. Anything
    else is one sentence."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.ckpt" if path.name == "checkpoints" else path / "checkpoints" / "last.ckpt"
    run_folder = path.parent.parent if path.parent.name == "checkpoints" else None
    step = step_of(path) if path.is_file() else None
    if step is not None:
        return path, step
    candidates = sorted(path.parent.glob("step_*.ckpt"), reverse=True) if path.name == "last.ckpt" or path.is_file() else []
    for candidate in candidates:
        step = step_of(candidate)
        if step is not None:
            log.warning("%s is missing or cannot be read (torn write); resuming from %s instead.", path, candidate)
            return candidate, step
    if path.is_file():
        raise OpenHMRError(f"Cannot resume: {path} is not a readable training checkpoint, and no earlier one beside it is.")
    if path.name == "last.ckpt" and run_folder is not None and (run_folder / "config.json").is_file():
        log.warning("%s holds no checkpoint yet (the run stopped before its first one): starting from step 0.", run_folder)
        return None, 0
    raise OpenHMRError(f"Cannot resume: {path} does not exist.")
