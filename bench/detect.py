"""Finding people: MediaPipe's detector rebuilt in PyTorch (``openhmr.detect.people``, every
person in one pass) against today's ``predict`` detector (MediaPipe Pose, one person per call,
found people painted out and asked again), on the same photos in one run.

    python bench/detect.py [--data ../shared/data/real] [--checkpoint W]

- Photos: every image of ``coco-mini`` (train and val files); people: those with at least 5
  labelled keypoints. A labelled person with fewer keypoints, or a crowd, is ignored: a
  detection on them counts neither for nor against.
- A detection on an ignored person is one with box IoU >= 0.5, or >= 50 % of their labelled
  keypoints inside, where a crowd's IoU is COCO's (pycocotools): the overlap over the
  detection's own area, so one of the many people inside a crowd's box is ignored too. (Until
  2026-12-01 a crowd's IoU was the plain one, which counted such detections as false: MoveNet's
  precision 0.935 then, 0.973 now, the same detections.)
- A detection covers a person when its box has IoU >= 0.5 with the labelled box, or when it
  holds >= 70 % of the person's labelled keypoints (ours: the region where the body would
  be; today's: the tight box of the landmarks seen). Detections and people are matched one to
  one, best score first, each detection to the uncovered person it covers most.
  ``*_matched_by_iou`` says how many matches the box IoU made.
- ``recall`` = matched people / people; ``precision`` = matched detections / detections not on
  an ignored person.
- Ours as shipped (``coco_*``, ``detect_ms``) and with a 2 × 2 grid of tiles beside the whole
  image and / or the detector's score threshold at 0.3 instead of 0.5 (``*_tiles2``,
  ``*_score03``); today's as ``coco_today_*``; MoveNet MultiPose (``--detector movenet``,
  :mod:`openhmr.detect.movenet`; its own box, for the IoU and the 70 % rule) on the whole
  image and with 2 × 2 tiles (``coco_movenet_*``, ``coco_movenet_tiles2_*``), and the
  ``crowd`` detector (``--detector crowd``, :mod:`openhmr.detect.crowd`: MoveNet plus the
  CenterNet proposals it confirms on a closer look; ``coco_crowd_*``) beside CenterNet's
  proposals alone (``coco_centernet_*``), when ``make movenet`` has fetched them.
- Time per image, one thread: ``detect_ms`` (ours: detector + landmark network on every
  person found; today's, ``detect_ms_today``: MediaPipe Pose's passes), ``predict_ms_per_image`` (``Model.predict``,
  today's detector), ``encoder_ms_per_image`` (the HMR network on those people's crops, cutting
  them included: with an upright network, that is where MediaPipe's person detector finds each
  crop's turn) and
  ``predict_over_parts`` = predict ÷ (today's detection + the network). Every detector and
  ``predict`` run once on the first photo before the timing: start-up is not per-image time.
  Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MIN_KEYPOINTS = 5
# Ours, as (key suffix, tiles, detector score threshold): the default first.
VARIANTS = (("", 1, 0.5), ("_tiles2", 2, 0.5), ("_score03", 1, 0.3), ("_tiles2_score03", 2, 0.3))


def labelled_people(folder: Path) -> list[tuple[Path, list[dict]]]:
    """(image path, its person annotations) for every image of the coco-mini json files."""
    out = []
    for file in sorted(folder.glob("person_keypoints_*.json")):
        data = json.loads(file.read_text())
        by_image: dict[int, list] = {img["id"]: [] for img in data["images"]}
        for ann in data["annotations"]:
            by_image[ann["image_id"]].append(ann)
        out += [(folder / "images" / img["file_name"], by_image[img["id"]]) for img in data["images"]]
    return out


def match(detections: list[dict], people: list[dict]) -> tuple[int, int, int, int]:
    """detections: {"score", "box", "holds": fn(points (N, 2)) -> bool (N,)} best first;
    people: COCO annotations. Returns (matched, by IoU, people counted, detections counted)."""
    counted = [p for p in people if p["num_keypoints"] >= MIN_KEYPOINTS and not p["iscrowd"]]
    ignored = [p for p in people if p not in counted]

    from pycocotools import mask as coco_mask

    def cover(d, p) -> tuple[float, float]:
        kps = np.array(p["keypoints"], dtype=float).reshape(-1, 3)
        labelled = kps[kps[:, 2] > 0, :2]
        share = float(d["holds"](labelled).mean()) if len(labelled) else 0.0
        x0, y0, x1, y1 = (float(v) for v in d["box"])
        return share, float(coco_mask.iou([[x0, y0, x1 - x0, y1 - y0]], [p["bbox"]], [int(p["iscrowd"])])[0, 0])

    taken, matched, by_iou, wasted = set(), 0, 0, 0
    for d in sorted(detections, key=lambda d: -d["score"]):
        best, best_key = None, (0.0, 0.0)
        for i, p in enumerate(counted):
            share, iou = cover(d, p)
            if i not in taken and (iou >= 0.5 or share >= 0.7) and (share, iou) > best_key:
                best, best_key = i, (share, iou)
        if best is not None:
            taken.add(best)
            matched += 1
            by_iou += int(best_key[1] >= 0.5)
        elif any(max(cover(d, p)[1], cover(d, p)[0]) >= 0.5 for p in ignored):
            wasted += 1  # on an unlabelled or crowd person: neither right nor wrong
    return matched, by_iou, len(counted), len(detections) - wasted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with coco-mini/")
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from openhmr.detect.mediapipe import MediaPipeDetector
    from openhmr.detect.people import PeopleFinder
    from openhmr.predict.images import load_image
    from openhmr.predict.predictor import load_model

    photos = labelled_people(Path(args.data) / "coco-mini")
    today, model = MediaPipeDetector(), load_model(args.checkpoint)
    finders = {f"coco{suffix}": PeopleFinder(tiles=tiles, min_score=score) for suffix, tiles, score in VARIANTS}
    movenets = _movenets()
    totals = {k: [0, 0, 0, 0] for k in [*finders, *movenets, "coco_today"]}
    seconds = {k: [] for k in [*finders, *movenets, "coco_today", "predict", "encoder"]}
    warm = load_image(photos[0][0])  # one-time start-up (networks made on first use) is no image's time
    for finder in finders.values():
        finder.find([warm])
    for find in movenets.values():
        find(warm)
    today(warm), model.predict(warm)
    for path, people in photos:
        image = load_image(path)
        found = {}
        for key, finder in finders.items():
            start = time.perf_counter()
            ours = finder.find([image])[0]
            seconds[key].append(time.perf_counter() - start)
            found[key] = [{"score": p.score, "box": _landmark_box(p.landmarks), "holds": _in_region(p.region)} for p in ours]
        for key, find in movenets.items():
            start = time.perf_counter()
            ours = find(image)
            seconds[key].append(time.perf_counter() - start)
            found[key] = [{"score": p.score, "box": tuple(p.box), "holds": _in_box((*p.box[:2], *(p.box[2:] - p.box[:2])))} for p in ours]
        start = time.perf_counter()
        theirs = today(image)
        seconds["coco_today"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict(image)
        seconds["predict"].append(time.perf_counter() - start)
        if theirs:
            start = time.perf_counter()
            model.run_crops(model.crops(image, theirs).images)  # the crops' upright turn included
            seconds["encoder"].append(time.perf_counter() - start)
        else:
            seconds["encoder"].append(0.0)
        found["coco_today"] = [{"score": d.score, "box": (d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]),
                                "holds": _in_box(d.bbox)} for d in theirs]  # fmt: skip
        for key, detections in found.items():
            totals[key] = [a + b for a, b in zip(totals[key], match(detections, people))]
        print(f"{path.name}: {len(people)} labelled; found " + ", ".join(f"{k} {len(v)}" for k, v in found.items()), flush=True)

    result: dict = {"photos": len(photos), "people": totals["coco_today"][2], "match": "box IoU >= 0.5 or >= 70 % of labelled keypoints inside"}
    for key, (matched, by_iou, counted, detections) in totals.items():
        result[f"{key}_recall"] = round(matched / max(counted, 1), 3)
        result[f"{key}_precision"] = round(matched / max(detections, 1), 3)
        result[f"{key}_matched_by_iou"] = by_iou
    ms = {k: 1000 * float(np.mean(v)) for k, v in seconds.items()}
    result.update({f"detect_ms{suffix}": round(ms[f"coco{suffix}"], 1) for suffix, _, _ in VARIANTS})
    result.update({f"detect_ms{key[4:]}": round(ms[key], 1) for key in movenets})
    result.update(detect_ms_today=round(ms["coco_today"], 1), predict_ms_per_image=round(ms["predict"], 1),
                  encoder_ms_per_image=round(ms["encoder"], 1),
                  predict_over_parts=round(ms["predict"] / max(ms["coco_today"] + ms["encoder"], 1e-9), 2))  # fmt: skip
    print(json.dumps(result))


def _movenets() -> dict:
    """key -> fn(image) -> people with .score and .box, for each detector built on MoveNet."""
    from openhmr.detect.centernet import CenterNet
    from openhmr.detect.crowd import PROPOSAL_SCORE, CrowdDetector
    from openhmr.detect.movenet import MoveNet
    from openhmr.errors import OpenHMRError

    try:
        return {"coco_movenet": MoveNet.from_file().find, "coco_movenet_tiles2": MoveNet.from_file(tiles=2).find,
                "coco_centernet": _scored_boxes(CenterNet.from_file(min_score=PROPOSAL_SCORE).find),
                "coco_crowd": CrowdDetector().people}  # fmt: skip
    except OpenHMRError as e:
        print(f"MoveNet skipped: {e}")
        return {}


def _scored_boxes(find):
    """CenterNet's (score, box) pairs as people with .score and .box."""
    from types import SimpleNamespace

    return lambda image: [SimpleNamespace(score=score, box=box) for score, box in find(image)]


def _landmark_box(points: np.ndarray, min_visibility: float = 0.5):
    seen = points[points[:, 2] >= min_visibility, :2]
    seen = seen if len(seen) >= 2 else points[:, :2]
    return (*seen.min(0), *seen.max(0))


def _in_region(region):
    from openhmr.geometry.crop import transform_points

    matrix = region.matrix(1)
    return lambda pts: ((transform_points(pts, matrix) >= 0) & (transform_points(pts, matrix) <= 1)).all(1)


def _in_box(bbox):
    x, y, w, h = bbox
    return lambda pts: (pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h)


if __name__ == "__main__":
    main()
