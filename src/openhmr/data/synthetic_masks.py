"""Part masks for synthetic sets rendered before ``openhmr synth`` wrote them: each body is
re-posed from its labels (pose, shape, camera K, root position) and only its part labels are
rendered, beside the image. The occluding box that ``synth`` sometimes paints is not in the
labels, so these masks show the whole body (amodal) where a box hid part of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from openhmr.data.masks import mask_path_beside
from openhmr.errors import OpenHMRError

BATCH = 32
NEEDED = ("imgname", "pose", "shape", "cam_K", "joints", "center", "body_model")


def is_synthetic_set(path: str | Path) -> bool:
    """Whether ``path`` is an ``openhmr synth`` annotations file (the Anny body's labels)."""
    path = Path(path)
    if path.suffix != ".npz" or not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as f:
        return set(NEEDED) <= set(f.files) and str(f["body_model"]) == "anny"


def add_synthetic_masks(annotations: str | Path, progress: bool = True) -> tuple[int, int]:
    """Write ``<image>.mask.png`` for every image of a synthetic set that lacks one, with the
    renderer the set records (pyrender for sets older than that field). A second person of a
    ``photo``-look image is not cut out: such sets are written with their masks.
    Returns (written, already there)."""
    from tqdm import tqdm

    from openhmr.body.anny_body import AnnyBody
    from openhmr.data.synth import SynthRenderer, write_mask

    annotations = Path(annotations)
    if not is_synthetic_set(annotations):
        raise OpenHMRError(f"{annotations}: not an `openhmr synth` set (needs {', '.join(NEEDED)} of the Anny body).")
    with np.load(annotations, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    root = annotations.parent
    todo = [i for i, name in enumerate(data["imgname"]) if not mask_path_beside(root / str(name)).exists()]
    res = round(2 * float(data["center"][0, 0]))
    body, renderer = AnnyBody(), None
    try:
        for start in tqdm(range(0, len(todo), BATCH), desc="masks", unit="batch", disable=not progress):
            index = todo[start : start + BATCH]
            pose = torch.from_numpy(data["pose"][index]).float().view(len(index), -1, 3)
            with torch.no_grad():
                out = body(pose[:, 0], pose[:, 1:], torch.from_numpy(data["shape"][index]).float())
            vertices = out.vertices.numpy() + data["joints"][index][:, :1]  # the root sits at the body's origin
            renderer = renderer or SynthRenderer(body, res, backend=str(data.get("renderer", "pyrender")))
            for k, i in enumerate(index):
                labels = renderer.render_parts(vertices[k], data["cam_K"][i])
                write_mask(mask_path_beside(root / str(data["imgname"][i])), labels, None)
    finally:
        if renderer is not None:
            renderer.close()
    return len(todo), len(data["imgname"]) - len(todo)
