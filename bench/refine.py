"""Refinement on 2D evidence: the network's estimate before and after ``fit`` / ``eft``.

    python bench/refine.py [--data ../shared/data/real] [--synth-test runs/data/test/annotations.npz]
                           [--limit N] [--synth-limit N] [--eft-limit N] [setting=value ...]

Targets are MediaPipe Pose's 33 landmarks found on each person's 224² crop (the labelled box),
independent of the human labels that score the result.
- LSP test (images 1001-2000): PCK@0.05 / @0.1 of the person's size (the labelled joints'
  extent) before and after refinement, and of MediaPipe's own landmarks, on the joints all
  three define (the LSP limbs: 12 of 14), for the same people in the same run.
- Held-out synthetic test renders (3D truth known): PA-MPJPE (mm) of the COCO-23 keypoints
  before and after.
- Seconds per person of ``fit`` (batches of 16) and ``eft`` (one person at a time), landmark
  detection excluded. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PCK_JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
              "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")  # fmt: skip


def landmark_targets(detector, crops: torch.Tensor):
    """MediaPipe's landmarks on (B, 3, 224, 224) crops -> Targets (nobody found: confidence 0)."""
    from openhmr.body import keypoints as kp
    from openhmr.fit import Targets
    from openhmr.predict.detect import crop_rgb, pixels_to_crop

    points = torch.zeros(len(crops), 33, 3)
    for i, crop in enumerate(crops):
        marks = detector.landmarks(crop_rgb(crop))
        if marks is not None:
            points[i] = torch.from_numpy(pixels_to_crop(marks, crop.shape[-1])).float()
    return Targets(points[..., :2], points[..., 2], kp.convention_names("mediapipe33"))


def body_points(body, params, names) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, 3) root-relative keypoints of ``params`` in ``names`` order, mask (K,)."""
    from openhmr.body import keypoints as kp

    with torch.no_grad():
        out = body(params.rotmats[:, 0], params.rotmats[:, 1:], params.shape)
    return kp.convert(out.keypoints, body.keypoint_names, names)


class PCK:
    """Per-joint hits at 0.05 and 0.1 of the person's size, over the labelled joints."""

    def __init__(self, joints: int):
        self.hits = {t: torch.zeros(joints) for t in (0.05, 0.1)}
        self.counted = torch.zeros(joints)

    def add(self, pred: torch.Tensor, gt: torch.Tensor, counted: torch.Tensor, unit: torch.Tensor, found=None) -> None:
        """pred, gt (B, K, 2) crop coordinates; counted (B, K) labelled; unit (B,) the person's
        size in crop coordinates; found (B, K): predicted at all (a miss where not)."""
        distance = (pred - gt).norm(dim=-1) / unit[:, None]
        hit_ok = counted if found is None else counted & found
        for t in self.hits:
            self.hits[t] += ((distance < t) & hit_ok).sum(0)
        self.counted += counted.sum(0)

    def summary(self, prefix: str, suffix: str = "", per_joint: bool = False) -> dict:
        out = {}
        for t, key in ((0.05, "pck05"), (0.1, "pck10")):
            out[f"{prefix}_{key}_{suffix}"] = round(float(self.hits[t].sum() / self.counted.sum().clamp(min=1)), 4)
        if per_joint:
            out[f"{prefix}_per_joint_pck05_{suffix}"] = {
                j: round(float(h / c), 3) for j, h, c in zip(PCK_JOINTS, self.hits[0.05], self.counted) if c > 0
            }
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with lsp/")
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    parser.add_argument("--synth-test", default=str(ROOT / "runs" / "data" / "test" / "annotations.npz"),
                        help="held-out synthetic annotations (rendered by `openhmr train`; skipped when absent)")
    parser.add_argument("--limit", type=int, help="LSP test people (default: all 1000)")
    parser.add_argument("--synth-limit", type=int, default=300, help="synthetic test people")
    parser.add_argument("--eft-limit", type=int, default=40, help="LSP people also refined by eft (it is slower)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("settings", nargs="*", help="FitSettings overrides, e.g. regression=0.1 optimiser=adam")
    args = parser.parse_args()

    from openhmr.body import keypoints as kp
    from openhmr.body import load_body_model
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.sources import read_annotations
    from openhmr.fit import FitSettings, Priors, Refiner
    from openhmr.geometry.camera import weak_perspective_project
    from openhmr.nets.weights_io import load_hmr, read_metadata
    from openhmr.predict.detect import MediaPipeDetector
    from openhmr.shipped import SHIPPED_WEIGHTS
    from openhmr.train.metrics import joint_errors

    torch.manual_seed(0)
    settings = FitSettings.parse(args.settings)
    checkpoint = Path(args.checkpoint) if args.checkpoint else SHIPPED_WEIGHTS
    arch, _ = read_metadata(checkpoint)
    body = load_body_model(arch["body_model"])
    hmr = load_hmr(checkpoint, body)
    priors = Priors.for_checkpoint(checkpoint, body)
    refiners = {mode: Refiner(hmr, mode, priors, settings) for mode in ("fit", "eft")}
    detector = MediaPipeDetector()
    result: dict = {"checkpoint": str(checkpoint), "settings": dataclasses.asdict(settings)}
    seconds = {"fit": 0.0, "eft": 0.0}
    people = {"fit": 0, "eft": 0}

    # LSP test: 2D against the human labels.
    ann = read_annotations(f"{Path(args.data) / 'lsp'}:test", "lsp14")
    dataset = CropDataset(ann)
    n = min(args.limit or len(dataset), len(dataset))
    scores = {k: PCK(len(PCK_JOINTS)) for k in ("before", "refined", "mediapipe", "eft_before", "eft")}
    accepted = {"fit": 0, "eft": 0}
    joint_index = torch.tensor([kp.convention_names("lsp14").index(j) for j in PCK_JOINTS])

    def score(label, params, gt, counted, unit):
        points, _ = body_points(body, params, PCK_JOINTS)
        scores[label].add(weak_perspective_project(points, params.camera), gt[..., :2], counted, unit)

    for start in range(0, n, args.batch_size):
        idx = list(range(start, min(start + args.batch_size, n)))
        samples = [dataset.sample_or_none(i) for i in idx]
        idx = [i for i, s in zip(idx, samples) if s is not None]
        samples = [s for s in samples if s is not None]
        crops = torch.stack([s["image"] for s in samples])
        gt = torch.stack([s["keypoints2d"] for s in samples])[:, joint_index]
        counted = gt[..., 2] > 0
        unit = torch.from_numpy(ann.person_size[idx] * 2 / ann.box_size[idx]).float()  # person size in crop coords
        targets = landmark_targets(detector, crops)
        mp_points, _ = kp.convert(torch.cat([targets.points, targets.confidence[..., None]], -1), targets.names, PCK_JOINTS)
        # A person MediaPipe missed counts as missed by its landmarks too (same people, same joints).
        scores["mediapipe"].add(mp_points[..., :2], gt[..., :2], counted, unit, found=mp_points[..., 2] > 0)
        t0 = time.perf_counter()
        fitted = refiners["fit"](crops, targets)
        seconds["fit"] += time.perf_counter() - t0
        people["fit"] += len(idx)
        accepted["fit"] += int(fitted.accepted.sum())
        before = refiners["fit"].estimate(crops)
        score("before", before, gt, counted, unit)
        score("refined", fitted.params, gt, counted, unit)
        if start < args.eft_limit:
            t0 = time.perf_counter()
            tuned = refiners["eft"](crops, targets)
            seconds["eft"] += time.perf_counter() - t0
            people["eft"] += len(idx)
            accepted["eft"] += int(tuned.accepted.sum())
            score("eft_before", before, gt, counted, unit)
            score("eft", tuned.params, gt, counted, unit)
        print(f"lsp {start + len(idx)}/{n}: fit {seconds['fit'] / people['fit']:.2f} s/person", flush=True)
    for label in ("before", "refined", "mediapipe"):
        result.update(scores[label].summary("lsp", label, per_joint=label != "before"))
    for label in ("eft_before", "eft"):
        result.update(scores[label].summary("lsp", f"{label}_subset"))
    result.update(lsp_people=people["fit"], lsp_fit_accepted=accepted["fit"], lsp_eft_people=people["eft"], lsp_eft_accepted=accepted["eft"])

    # Synthetic test renders: 3D against the truth.
    synth = Path(args.synth_test)
    if synth.is_file() and args.synth_limit > 0:
        ann = read_spin_npz(synth, "coco23")
        dataset = CropDataset(ann)
        m = min(args.synth_limit, len(dataset))
        names = kp.convention_names("coco23")
        hips = (names.index("left_hip"), names.index("right_hip"))
        pa = {"before": [], "refined": []}
        synth_accepted = 0
        for start in range(0, m, args.batch_size):
            samples = [dataset[i] for i in range(start, min(start + args.batch_size, m))]
            crops = torch.stack([s["image"] for s in samples])
            gt = torch.stack([s["keypoints3d"] for s in samples])
            targets = landmark_targets(detector, crops)
            fitted = refiners["fit"](crops, targets)
            synth_accepted += int(fitted.accepted.sum())
            for label, params in (("before", refiners["fit"].estimate(crops)), ("refined", fitted.params)):
                points, mask = body_points(body, params, names)
                weights = (gt[..., 3] > 0) & mask[None]
                pa[label].append(joint_errors(points, gt[..., :3], weights.float(), hips)[2])
            print(f"synthetic {start + len(samples)}/{m}", flush=True)
        for label in pa:
            result[f"synth_pa_mpjpe_{label}"] = round(float(torch.cat(pa[label]).mean()) * 1000, 1)
        result.update(synth_people=m, synth_fit_accepted=synth_accepted)
    else:
        print(f"synthetic test skipped ({'--synth-limit 0' if synth.is_file() else f'no set at {synth}'})")
    result["fit_seconds_per_person"] = round(seconds["fit"] / max(people["fit"], 1), 3)
    result["eft_seconds_per_person"] = round(seconds["eft"] / max(people["eft"], 1), 3)
    line = json.dumps(result)
    if args.out:
        Path(args.out).write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
