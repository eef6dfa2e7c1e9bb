"""Refinement as users run it: ``predict`` against ``predict --refine fit`` (and ``eft``) on the
same people, through the same call (:meth:`openhmr.predict.predictor.Model.predict`).

    python bench/refine.py [--data ../shared/data/real] [--synth-test runs/data/test/annotations.npz]
                           [--limit N] [--synth-limit N] [--eft-limit N] [--checkpoint W] [setting=value ...]

Each person is given as their labelled box (the crop ``predict`` cuts from it is the one the
network benches use), in their whole photo: refinement then fits in the full-image camera with
MediaPipe's landmarks and person mask found on the crop, exactly as ``predict --refine fit``.
- LSP test (images 1001-2000): PCK@0.05 / @0.1 of the person's box side, in image pixels, of
  the COCO-17 keypoints that ``predict`` writes, on the LSP limbs (12 of 14), without and with
  refinement, for the same people in the same run.
- Held-out synthetic renders (3D truth known): PA-MPJPE (mm) of the COCO-23 keypoints of the
  written pose and shape, without and with.
- Seconds per person, one person per call: ``predict_seconds_per_person`` (the network alone)
  and ``predict_refine_seconds_per_person`` (the whole call with ``refine="fit"``: landmarks,
  mask, fit); ``refine_over_predict_seconds`` is their difference. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PCK_JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
              "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")  # fmt: skip


def labelled_box(ann, i: int):
    """The Detection whose ``predict`` crop is the labelled crop (centre, side ``box_size``,
    widened as the network was trained: see openhmr.data.framing), as evaluation crops it."""
    from openhmr.detect.mediapipe import Detection
    from openhmr.geometry.crop import STORED_MARGIN

    side = float(ann.box_size[i]) / STORED_MARGIN
    x, y = ann.center[i] - side / 2
    return Detection((float(x), float(y), side, side), 1.0)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with lsp/")
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    parser.add_argument("--synth-test", default=str(ROOT / "runs" / "data" / "test" / "annotations.npz"),
                        help="held-out synthetic annotations (rendered by `openhmr train`; skipped when absent)")
    parser.add_argument("--limit", type=int, default=100, help="LSP test people (default: 100 of 1000)")
    parser.add_argument("--synth-limit", type=int, default=50, help="synthetic test people (default: 50)")
    parser.add_argument("--eft-limit", type=int, default=20, help="LSP people also refined by eft (it is slower)")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--detector", default="mediapipe", choices=("mediapipe", "blazepose"),
                        help="who finds the landmarks and mask on each crop for the fit (default: MediaPipe Pose)")
    parser.add_argument("settings", nargs="*", help="FitSettings overrides, e.g. iterations=40 optimiser=adam")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one person per call, as a user on a shared machine runs it

    from openhmr.body import keypoints as kp
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.sources import read_annotations
    from openhmr.eval.metrics import joint_errors
    from openhmr.fit import FitSettings
    from openhmr.predict.images import load_image
    from openhmr.predict.predictor import load_model

    torch.manual_seed(0)
    model = load_model(args.checkpoint, detector=args.detector)
    model.fit_settings = FitSettings.parse(args.settings)
    checkpoint = Path(model.checkpoint).resolve()
    shown = checkpoint.relative_to(ROOT) if checkpoint.is_relative_to(ROOT) else checkpoint.name  # no machine paths
    result: dict = {"checkpoint": str(shown), "threads": torch.get_num_threads(), "settings": args.settings, "detector": args.detector}
    coco17 = kp.convention_names("coco17")
    limbs17 = [coco17.index(j) for j in PCK_JOINTS]

    # LSP test: 2D against the human labels, in image pixels.
    ann = read_annotations(f"{Path(args.data) / 'lsp'}:test", "lsp14")
    limbs14 = [kp.convention_names("lsp14").index(j) for j in PCK_JOINTS]
    n = min(args.limit, len(ann))
    hits = {(label, t): 0 for label in ("before", "refined", "eft_before", "eft") for t in (0.05, 0.1)}
    counted = {"before": 0, "refined": 0, "eft_before": 0, "eft": 0}
    seconds = {"predict": [], "fit": [], "eft": []}
    accepted = {"fit": 0, "eft": 0}

    def score(label, person, gt, unit):
        visible = gt[:, 2] > 0
        distance = np.linalg.norm(person.keypoints_2d[limbs17, :2] - gt[:, :2], axis=1) / unit
        for t in (0.05, 0.1):
            hits[(label, t)] += int(((distance < t) & visible).sum())
        counted[label] += int(visible.sum())

    for i in range(n):
        image = load_image(ann.image_root / str(ann.imgname[i]))
        box = labelled_box(ann, i)
        gt, unit = ann.keypoints2d[i][limbs14], float(ann.person_size[i])
        plain, t_plain = timed(lambda: model.predict(image, [box]))
        fitted, t_fit = timed(lambda: model.predict(image, [box], refine="fit"))
        seconds["predict"].append(t_plain)
        seconds["fit"].append(t_fit)
        accepted["fit"] += fitted.people[0].refined
        score("before", plain.people[0], gt, unit)
        score("refined", fitted.people[0], gt, unit)
        if i < args.eft_limit:
            tuned, t_eft = timed(lambda: model.predict(image, [box], refine="eft"))
            seconds["eft"].append(t_eft)
            accepted["eft"] += tuned.people[0].refined
            score("eft_before", plain.people[0], gt, unit)
            score("eft", tuned.people[0], gt, unit)
        if (i + 1) % 10 == 0:
            print(f"lsp {i + 1}/{n}: predict {np.mean(seconds['predict']):.2f} s, with fit {np.mean(seconds['fit']):.2f} s per person",
                  flush=True)  # fmt: skip
    for label in (label for label in counted if counted[label]):  # eft keys only when eft ran
        key = label if label in ("before", "refined") else f"{label}_subset"
        for t, name in ((0.05, "pck05"), (0.1, "pck10")):
            result[f"lsp_{name}_{key}"] = round(hits[(label, t)] / max(counted[label], 1), 4)
    result.update(lsp_people=n, lsp_fit_accepted=accepted["fit"], lsp_eft_people=len(seconds["eft"]), lsp_eft_accepted=accepted["eft"])

    # Synthetic test renders: 3D against the truth.
    synth = Path(args.synth_test)
    if synth.is_file() and args.synth_limit > 0:
        ann = read_spin_npz(synth, "coco23")
        truth = CropDataset(ann)
        names = kp.convention_names("coco23")
        hips = (names.index("left_hip"), names.index("right_hip"))
        pa = {"before": [], "refined": []}
        m = min(args.synth_limit, len(ann))
        for i in range(m):
            image = load_image(ann.image_root / str(ann.imgname[i]))
            gt = truth[i]["keypoints3d"][None]
            for label, refine in (("before", None), ("refined", "fit")):
                person = model.predict(image, [labelled_box(ann, i)], refine=refine).people[0]
                pose = torch.from_numpy(person.pose).float()[None]
                out = model.body(pose[:, 0], pose[:, 1:], torch.from_numpy(person.shape).float()[None])
                points, mask = kp.convert(out.keypoints, model.body.keypoint_names, names)
                weights = ((gt[..., 3] > 0) & mask[None]).float()
                pa[label].append(joint_errors(points, gt[..., :3], weights, hips)[2])
            if (i + 1) % 10 == 0:
                print(f"synthetic {i + 1}/{m}", flush=True)
        for label in pa:
            result[f"synth_pa_mpjpe_{label}"] = round(float(torch.cat(pa[label]).mean()) * 1000, 1)
        result["synth_people"] = m
    else:
        print(f"synthetic test skipped ({'--synth-limit 0' if synth.is_file() else f'no set at {synth}'})")
    result["predict_seconds_per_person"] = round(float(np.mean(seconds["predict"])), 3)
    result["predict_refine_seconds_per_person"] = round(float(np.mean(seconds["fit"])), 3)
    result["refine_over_predict_seconds"] = round(result["predict_refine_seconds_per_person"] - result["predict_seconds_per_person"], 3)
    if seconds["eft"]:
        result["predict_eft_seconds_per_person"] = round(float(np.mean(seconds["eft"])), 3)
    line = json.dumps(result)
    if args.out:
        Path(args.out).write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
