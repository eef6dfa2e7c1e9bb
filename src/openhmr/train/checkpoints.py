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


def resume_point(path: str | Path) -> tuple[Path, int]:
    """(checkpoint to resume from, its global step): ``path`` itself when it loads, else the
    newest ``step_*.ckpt`` beside it that does (said in the log); one sentence when none does.
    A missing ``last.ckpt`` next to step checkpoints (a kill between the two writes) falls back too."""
    path = Path(path)
    if not path.is_file() and not (path.name == "last.ckpt" and any(path.parent.glob("step_*.ckpt"))):
        raise OpenHMRError(f"Cannot resume: {path} does not exist.")
    step = step_of(path) if path.is_file() else None
    if step is not None:
        return path, step
    for candidate in sorted(path.parent.glob("step_*.ckpt"), reverse=True):
        step = step_of(candidate)
        if step is not None:
            log.warning("%s is missing or cannot be read (torn write); resuming from %s instead.", path, candidate)
            return candidate, step
    raise OpenHMRError(f"Cannot resume: {path} is not a readable training checkpoint, and no earlier one beside it is.")
