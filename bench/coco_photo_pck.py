"""2D PCK of ``openhmr predict`` on a labelled COCO photo (real, not synthetic).

Usage: python bench/coco_photo_pck.py [--image ../shared/data/images/coco_000000000785.jpg]
       [--checkpoint W] [--bbox-from-labels]

The detector finds the person (or, with --bbox-from-labels, the labelled box is used); the
predicted COCO-17 keypoints are compared with the labelled visible ones. A keypoint counts as
correct within 0.05 / 0.1 / 0.2 of the labelled box's longer side. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / ".." / "shared" / "data" / "images" / "coco_000000000785.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=PHOTO)
    parser.add_argument("--labels", type=Path, help="COCO JSON (default: the image's .json)")
    parser.add_argument("--checkpoint")
    parser.add_argument("--bbox-from-labels", action="store_true")
    args = parser.parse_args()

    from openhmr.predict.detect import Detection
    from openhmr.predict.predictor import load_model

    labels = json.loads((args.labels or args.image.with_suffix(".json")).read_text())
    person = max((a for a in labels["annotations"] if a.get("num_keypoints", 0) > 0), key=lambda a: a["area"])
    truth = np.asarray(person["keypoints"], dtype=np.float64).reshape(17, 3)
    x, y, w, h = person["bbox"]
    model = load_model(args.checkpoint)
    boxes = [Detection((x, y, w, h), 1.0)] if args.bbox_from_labels else None
    result = model.predict(args.image, boxes)
    if not result.people:
        print(json.dumps({"error": "no person found"}))
        return
    centre = np.array([x + w / 2, y + h / 2])
    chosen = min(result.people, key=lambda p: np.linalg.norm(np.array(p.bbox[:2]) + np.array(p.bbox[2:]) / 2 - centre))
    visible = truth[:, 2] > 0
    distance = np.linalg.norm(chosen.keypoints_2d[:, :2] - truth[:, :2], axis=1)[visible] / max(w, h)
    names = [n for n, v in zip(__import__("openhmr.body.keypoints", fromlist=["x"]).convention_names("coco17"), visible) if v]
    print(json.dumps({
        "image": args.image.name, "visible_keypoints": int(visible.sum()), "box": "labels" if args.bbox_from_labels else "detector",
        "pck005": round(float((distance < 0.05).mean()), 3), "pck01": round(float((distance < 0.1).mean()), 3),
        "pck02": round(float((distance < 0.2).mean()), 3), "mean_error_box_fraction": round(float(distance.mean()), 3),
        "per_keypoint": {n: round(float(d), 3) for n, d in zip(names, distance)},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
