"""Which crop should the network see when a detector finds the person? Today's (the tight box
of MediaPipe Pose's landmarks, 1.3 × its longer side) against crops from the PyTorch detector's
body region (``openhmr.detect.people``), on the same LSP test photos, in one run.

    python bench/region_crops.py [--data ../shared/data/real] [--limit 200] [--checkpoint W]

For each photo the person nearest the labelled one is taken from each detector; the network
alone (no refinement) predicts from:
- ``today``: MediaPipe Pose's box, as ``predict`` does now;
- ``landmark_box``: the tight box of the rebuilt pipeline's landmarks (should equal today's);
- ``region_<f>``: an upright square crop on the region's centre, side f × the region's side;
- ``movenet_box``: MoveNet MultiPose's own box; ``movenet_keypoints``: the tight box of its
  keypoints seen (score >= 0.3), when ``make movenet`` has fetched it (then every detector
  must find someone).
Scores: PCK@0.05 / @0.1 of the person's box side on the 12 LSP limbs, over the photos where
every detector found someone (``photos_scored``). Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REGION_FACTORS = (1.0, 0.8, 0.65)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with lsp/")
    parser.add_argument("--limit", type=int, default=200, help="LSP test photos (default 200 of 1000)")
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from refine import PCK_JOINTS

    from openhmr.body import keypoints as kp
    from openhmr.data.sources import read_annotations
    from openhmr.detect.mediapipe import Detection, MediaPipeDetector, box_from_points
    from openhmr.detect.people import PeopleFinder
    from openhmr.predict.images import load_image
    from openhmr.predict.predictor import load_model

    model, today, finder = load_model(args.checkpoint), MediaPipeDetector(), PeopleFinder()
    ann = read_annotations(f"{Path(args.data) / 'lsp'}:test", "lsp14")
    limbs17 = [kp.convention_names("coco17").index(j) for j in PCK_JOINTS]
    limbs14 = [kp.convention_names("lsp14").index(j) for j in PCK_JOINTS]
    keys = ["today", "landmark_box", *(f"region_{f}" for f in REGION_FACTORS)]
    movenet = _movenet()
    if movenet is not None:
        keys += ["movenet_box", "movenet_keypoints"]
    hits = {(k, t): 0 for k in keys for t in (0.05, 0.1)}
    counted, scored, found = 0, 0, {"today": 0, "ours": 0, "movenet": 0}
    n = min(args.limit, len(ann))
    for i in range(n):
        image = load_image(ann.image_root / str(ann.imgname[i]))
        height, width = image.shape[:2]
        centre = ann.center[i]
        theirs, ours = today(image), finder.find([image])[0]
        found["today"] += bool(theirs)
        found["ours"] += bool(ours)
        if not theirs or not ours:
            continue
        boxes = {"today": min((d.bbox for d in theirs), key=lambda b, c=centre: np.hypot(b[0] + b[2] / 2 - c[0], b[1] + b[3] / 2 - c[1]))}
        person = min(ours, key=lambda p, c=centre: np.hypot(p.region.x - c[0], p.region.y - c[1]))
        seen = person.landmarks[person.landmarks[:, 2] >= 0.5, :2]
        boxes["landmark_box"] = box_from_points(seen if len(seen) >= 2 else person.landmarks[:, :2], width, height)
        for f in REGION_FACTORS:
            side = person.region.size * f / model.hmr.crop_margin  # predict crops crop_margin × the box's side
            boxes[f"region_{f}"] = (person.region.x - side / 2, person.region.y - side / 2, side, side)
        if movenet is not None:
            theirs_too = movenet.find(image)
            found["movenet"] += bool(theirs_too)
            if not theirs_too:
                continue
            nearest = min(theirs_too, key=lambda p, c=centre: np.hypot(*((p.box[:2] + p.box[2:]) / 2 - c)))
            boxes["movenet_box"] = box_from_points(nearest.box.reshape(2, 2), width, height)
            seen = nearest.keypoints[nearest.keypoints[:, 2] >= 0.3, :2]
            boxes["movenet_keypoints"] = box_from_points(seen, width, height)
        if any(b is None for b in boxes.values()):
            continue
        gt, unit = ann.keypoints2d[i][limbs14], float(ann.person_size[i])
        visible = gt[:, 2] > 0
        for key, box in boxes.items():
            predicted = model.predict(image, [Detection(tuple(float(v) for v in box), 1.0)]).people[0]
            distance = np.linalg.norm(predicted.keypoints_2d[limbs17, :2] - gt[:, :2], axis=1) / unit
            for t in (0.05, 0.1):
                hits[(key, t)] += int(((distance < t) & visible).sum())
        counted += int(visible.sum())
        scored += 1
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{n}: " + ", ".join(f"{k} {hits[(k, 0.05)] / max(counted, 1):.3f}" for k in keys), flush=True)
    result = {"photos": n, "photos_scored": scored, "found_today": found["today"], "found_ours": found["ours"]}
    if movenet is not None:
        result["found_movenet"] = found["movenet"]
    for key in keys:
        result[f"{key}_pck05"] = round(hits[(key, 0.05)] / max(counted, 1), 4)
        result[f"{key}_pck10"] = round(hits[(key, 0.1)] / max(counted, 1), 4)
    print(json.dumps(result))


def _movenet():
    from openhmr.detect.movenet import MoveNet
    from openhmr.errors import OpenHMRError

    try:
        return MoveNet.from_file()
    except OpenHMRError as e:
        print(f"MoveNet skipped: {e}")
        return None


if __name__ == "__main__":
    main()
