"""The model card's failure cases looked at again: LSP test people whose torso leans more than
45° from upright (divers, gymnasts, riders bent over), several networks side by side.

    python bench/unusual_poses.py --checkpoints A.safetensors B.safetensors [--people 8] [--out docs/unusual_poses.jpg]

Each person's crop (the labelled box given, as ``bench/real_photos.py`` takes it) in one column;
the first row shows the human labels, then one row per checkpoint with its projected
keypoints (with ``--upright``, a second row each from upright crops, as ``predict --upright``).
The picture's people are the first ``--people`` such people of LSP test; the JSON line printed
last holds every checkpoint's PCK@0.05 / @0.1 on all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

# LSP limbs (joint indices) for the drawings.
LIMBS = [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11), (2, 3), (8, 9), (8, 2), (9, 3), (12, 13)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", required=True)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "docs" / "unusual_poses.jpg"))
    parser.add_argument("--upright", action="store_true", help="also a row per checkpoint with upright crops (predict --upright)")
    args = parser.parse_args()

    from PIL import Image, ImageDraw
    from real_photos import not_upright, subset

    from openhmr.body import keypoints as kp
    from openhmr.body import load_body_model
    from openhmr.data.dataset import CropDataset
    from openhmr.detect.upright import UprightTurn
    from openhmr.eval.evaluate import (
        PROTOCOLS_2D,
        evaluate_2d,
        final_prediction,
        read_eval_set,
    )
    from openhmr.nets.weights_io import load_hmr, read_metadata

    spec = f"{Path(args.data) / 'lsp'}:test"
    chosen = np.flatnonzero(not_upright(read_eval_set(spec, "lsp").keypoints2d))
    people = subset(read_eval_set(spec, "lsp"), chosen)
    shown = subset(read_eval_set(spec, "lsp"), chosen[: args.people])

    def draw(image: torch.Tensor, points: np.ndarray, colour) -> np.ndarray:
        """image (3, res, res) in [0, 1]; points (14, 2+) crop coordinates in [-1, 1]."""
        tile = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
        pen = ImageDraw.Draw(tile)
        xy = (points[:, :2] + 1) * image.shape[-1] / 2
        for a, b in LIMBS:
            if points.shape[1] < 3 or (points[a, 2] > 0 and points[b, 2] > 0):
                pen.line([tuple(xy[a]), tuple(xy[b])], fill=colour, width=2)
        return np.asarray(tile)

    rows = []
    result = {"people": len(people.imgname)}
    names = kp.convention_names(PROTOCOLS_2D["lsp"])
    upright_turn = UprightTurn() if args.upright else None  # one detector for every checkpoint's picture rows
    for checkpoint in args.checkpoints:
        arch, _ = read_metadata(checkpoint)
        hmr = load_hmr(checkpoint, load_body_model(arch["body_model"])).eval()
        crops = CropDataset(shown, augment=False, margin=hmr.crop_margin)  # each network sees its own framing
        samples = [crops[i] for i in range(len(crops))]
        if not rows:  # the labels, on the first network's crops
            rows.append([draw(s["image"], s["keypoints2d"].numpy(), (40, 220, 40)) for s in samples])
        index, predicts = kp.mapping(kp.convention_names(hmr.keypoint_convention), names)
        drawn = predicts.float()[:, None]  # LSP joints the model has no keypoint for stay undrawn
        for turn in (None, upright_turn) if args.upright else (None,):
            upright = turn is not None
            metrics = evaluate_2d(hmr, people, "lsp", progress=False, upright=upright)
            key = (Path(checkpoint).parent.name or checkpoint) + ("_upright" if upright else "")
            result[key] = {"pck05": metrics["pck05"], "pck10": metrics["pck10"]}
            with torch.no_grad():  # drawn on the unturned crops: turned crops' answers come back to them
                final = final_prediction(hmr, crops, list(range(len(samples))), samples, turn)
            predicted = final.keypoints2d.index_select(1, index)
            rows.append([draw(s["image"], torch.cat([p, drawn], 1).numpy(), (230, 60, 40)) for s, p in zip(samples, predicted)])
    Image.fromarray(np.concatenate([np.concatenate(r, 1) for r in rows], 0)).save(args.out, quality=88)
    result["picture"] = str(Path(args.out).resolve().relative_to(ROOT)) if Path(args.out).resolve().is_relative_to(ROOT) else args.out
    print(json.dumps(result))


if __name__ == "__main__":
    main()
