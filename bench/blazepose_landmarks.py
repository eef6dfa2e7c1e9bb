"""BlazePose's own landmarks on LSP test crops, before any training: the reference that HMR
on the BlazePose encoder must add to.

    python bench/blazepose_landmarks.py [--variants full,heavy] [--margins 1.3,1.5] [--limit 300] [--upright]

For each variant and crop margin (× the labelled joints' extent; LSP training and `predict`
use 1.3): PCK@0.05 / @0.1 of the person's box on LSP's 12 limb and hip joints, from the
network's 33-point landmarks, on square 256² crops with the labelled box given. ``--upright``
also measures a second pass on a crop turned upright by the first pass's hips-to-shoulders
line (MediaPipe's own alignment). ``ms_per_crop``: the landmark network on a batch of 16, on
this machine's threads. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RES = 256


def landmarks_in_image(net, images: list[np.ndarray], centres: np.ndarray, sizes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(N, 33, 2) image pixels of BlazePose's landmarks on crops at ``centres`` / ``sizes``,
    turned by ``angles`` (degrees)."""
    from openhmr.geometry.crop import crop_matrix, transform_points, warp_image

    out = []
    for start in range(0, len(images), 16):
        idx = range(start, min(start + 16, len(images)))
        matrices = [crop_matrix(centres[i], float(sizes[i]), RES, rotation=float(angles[i])) for i in idx]
        crops = np.stack([warp_image(images[i], m, RES) for i, m in zip(idx, matrices)])
        with torch.no_grad():
            lm = net(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255).landmarks[:, :33, :2].numpy()
        out.extend(transform_points(p.astype(np.float64), np.linalg.inv(m)) for p, m in zip(lm, matrices))
    return np.stack(out)


def upright_angles(points: np.ndarray) -> np.ndarray:
    """(N,) degrees that turn each person's hips-to-shoulders line upright (MediaPipe's rule)."""
    hips = points[:, [23, 24]].mean(1)
    shoulders = points[:, [11, 12]].mean(1)
    d = shoulders - hips
    return np.degrees(np.arctan2(d[:, 0], -d[:, 1]))


def pck(points: np.ndarray, ann) -> tuple[float, float]:
    """PCK@0.05 / @0.1 of the person's size of MediaPipe-33 ``points`` (N, 33, 2) pixels on the
    LSP joints MediaPipe shares (12 of 14)."""
    from openhmr.body import keypoints as kp

    index, shared = kp.mapping(kp.convention_names("mediapipe33"), ann.convention)
    pred = points[:, index.numpy()]
    gt = ann.keypoints2d
    counted = (gt[..., 2] > 0) & shared.numpy()[None]
    d = np.linalg.norm(pred - gt[..., :2], axis=-1) / ann.person_size[:, None]
    return tuple(round(float(((d < t) & counted).sum() / counted.sum()), 4) for t in (0.05, 0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real" / "lsp"), help="the LSP folder")
    parser.add_argument("--variants", default="full,heavy")
    parser.add_argument("--margins", default="1.3,1.5")
    parser.add_argument("--limit", type=int, default=300, help="the first N test people (default 300)")
    parser.add_argument("--upright", action="store_true", help="also measure upright second-pass crops")
    args = parser.parse_args()

    from openhmr.data.lsp import LSP_MARGIN
    from openhmr.data.sources import read_annotations
    from openhmr.errors import OpenHMRError
    from openhmr.nets.blazepose import BlazePoseLandmarks, landmark_model_path
    from openhmr.predict.images import load_image

    ann = read_annotations(f"{args.data}:test", "lsp14")
    n = min(args.limit, len(ann.imgname))
    for field in ("keypoints2d", "center", "box_size", "person_size", "imgname"):
        setattr(ann, field, getattr(ann, field)[:n])
    images = [load_image(ann.image_root / str(name)) for name in ann.imgname]
    result: dict = {"people": n, "threads": torch.get_num_threads()}
    for variant in args.variants.split(","):
        try:
            net = BlazePoseLandmarks.from_file(landmark_model_path(variant)).eval()
        except OpenHMRError as e:
            result[f"{variant}_skipped"] = str(e)
            continue
        batch = torch.rand(16, 3, RES, RES)
        with torch.no_grad():
            net(batch)
            start = time.perf_counter()
            net(batch)
        result[f"{variant}_ms_per_crop"] = round(1000 * (time.perf_counter() - start) / 16, 1)
        for margin in (float(m) for m in args.margins.split(",")):
            sizes = ann.box_size * margin / LSP_MARGIN
            points = landmarks_in_image(net, images, ann.center, sizes, np.zeros(n))
            result[f"{variant}_m{margin}_pck05"], result[f"{variant}_m{margin}_pck10"] = pck(points, ann)
            if args.upright:
                turned = landmarks_in_image(net, images, ann.center, sizes, upright_angles(points))
                result[f"{variant}_m{margin}_upright_pck05"], result[f"{variant}_m{margin}_upright_pck10"] = pck(turned, ann)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
