"""Silhouettes: what the silhouette loss does in training, what the silhouette term does in
fitting, and what a silhouette costs.

    python bench/silhouettes.py --with-run RUN_B --without-run RUN_A
                                [--synth-test /work/data/run/test/annotations.npz]
                                [--data ../shared/data/real] [--limit 300] [--coco-limit 300]

- Held-out synthetic test (exact masks, beside the images): PVE (mm) and the predicted body's
  mask IoU (64² of the crop) of two runs trained on the same budget, with and without
  ``loss_silhouette`` (``RUN/model.safetensors``).
- Real photos (LSP test, then the coco-mini val sample; the labelled box as the crop): IoU with
  MediaPipe's person mask of the crop, and PCK@0.05 of the person's size against the human
  labels, for the shipped network alone, ``fit`` without the mask (``silhouette=0``) and
  ``fit`` with it (the default). IoU counts the people whose mask MediaPipe's judge kept.
- The soft silhouette's forward + backward, batch 32 at 64², in ms per image.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def synthetic(run: Path, test: Path, body, limit: int | None) -> dict:
    """PVE and mask IoU of ``run``'s weights on the synthetic test set."""
    from openhmr.data.dataset import CropDataset
    from openhmr.data.formats import read_spin_npz
    from openhmr.eval.evaluate import evaluate
    from openhmr.nets.weights_io import load_hmr
    from openhmr.silhouette.losses import MASK_RES, crop_silhouette, hard_iou
    from openhmr.silhouette.soft import SoftSilhouette

    hmr = load_hmr(run / "model.safetensors", body).eval()
    ann = read_spin_npz(test, "coco23")
    metrics = evaluate(hmr, ann, "synth", progress=False)
    dataset = CropDataset(ann, masks=True, margin=hmr.crop_margin)
    renderer = SoftSilhouette(body.faces, MASK_RES)
    ious = []
    count = min(limit or len(dataset), len(dataset))
    for start in range(0, count, 32):
        samples = [dataset[i] for i in range(start, min(start + 32, count))]
        with torch.no_grad():
            out = hmr(torch.stack([s["image"] for s in samples]), decode="final")[-1]
            mine = crop_silhouette(renderer, out.vertices, out.camera) > 0.5
        truth = torch.stack([s["mask"] for s in samples]) > 127
        ious.append(hard_iou(mine, truth))
    return {"pve": metrics["pve"], "pa_mpjpe": metrics["pa_mpjpe"], "mask_iou": round(float(torch.cat(ious).mean()), 4)}


def real(spec: str, convention: str, limit: int, hmr, body, refiners: dict, detector) -> dict:
    """IoU with MediaPipe's mask and PCK@0.05 for the network, fit without and with the mask."""
    from refine import PCK_JOINTS  # bench/refine.py (bench/ is on sys.path)

    from openhmr.body import keypoints as kp
    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import read_annotations
    from openhmr.fit.targets import crop_targets
    from openhmr.geometry.camera import weak_perspective_project
    from openhmr.silhouette.losses import MASK_RES, crop_silhouette, hard_iou
    from openhmr.silhouette.soft import SoftSilhouette

    ann = read_annotations(spec, convention)
    dataset = CropDataset(ann, margin=hmr.crop_margin)
    joints = [j for j in PCK_JOINTS if j in kp.convention_names(convention)]
    joint_index = torch.tensor([kp.convention_names(convention).index(j) for j in joints])
    renderer = SoftSilhouette(body.faces, MASK_RES)
    labels = ("network", "fit_nomask", "fit")
    ious = {k: [] for k in labels}
    hits = {k: 0 for k in labels}
    counted, kept, seen = 0, 0, 0
    n = min(limit, len(dataset))
    for start in range(0, n, 16):
        read = [(i, dataset.sample_or_none(i)) for i in range(start, min(start + 16, n))]
        idx = [i for i, s in read if s is not None]
        samples = [s for _, s in read if s is not None]
        crops = torch.stack([s["image"] for s in samples])
        gt = torch.stack([s["keypoints2d"] for s in samples])
        unit = torch.from_numpy(ann.person_size[idx] * 2 / ann.box_size[idx]).float()
        targets = crop_targets(detector, crops)
        masks, confidence = targets.mask, targets.mask_confidence
        params = {"network": refiners["fit"].estimate(crops), "fit_nomask": refiners["fit_nomask"](crops, targets).params,
                  "fit": refiners["fit"](crops, targets).params}
        gt_j = gt[:, joint_index]
        labelled = gt_j[..., 2] > 0
        counted += int(labelled.sum())
        has_mask = confidence > 0
        kept += int(has_mask.sum())
        seen += len(samples)
        for label, p in params.items():
            with torch.no_grad():
                out = body(p.rotmats[:, 0], p.rotmats[:, 1:], p.shape)
                iou = hard_iou(crop_silhouette(renderer, out.vertices, p.camera) > 0.5, masks > 0.5)
            body_xy, _ = kp.convert(out.keypoints, body.keypoint_names, tuple(joints))
            distance = (weak_perspective_project(body_xy, p.camera) - gt_j[..., :2]).norm(dim=-1) / unit[:, None]
            hits[label] += int(((distance < 0.05) & labelled).sum())
            ious[label].extend(iou[has_mask].tolist())
        print(f"{spec} {start + len(samples)}/{n}", flush=True)
    out = {"people": seen, "with_mask": kept}
    for label in labels:
        out[f"iou_{label}"] = round(float(np.mean(ious[label])), 4) if ious[label] else None
        out[f"pck05_{label}"] = round(hits[label] / max(counted, 1), 4)
    return out


def pictures(path: Path, spec: str, every: int, count: int, hmr, body, refiners: dict, detector) -> None:
    """Crops of ``count`` people (every ``every``-th of the set) in three rows: MediaPipe's mask
    (blue), the network's silhouette (red), the fit's with the mask (green)."""
    from PIL import Image

    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import read_annotations
    from openhmr.detect.mediapipe import crop_rgb
    from openhmr.fit.targets import crop_targets
    from openhmr.silhouette.losses import MASK_RES, crop_silhouette
    from openhmr.silhouette.soft import SoftSilhouette

    dataset = CropDataset(read_annotations(spec, "lsp14"), margin=hmr.crop_margin)
    renderer = SoftSilhouette(body.faces, MASK_RES)
    columns = []
    for i in range(0, every * count, every):
        crop = dataset[i]["image"]
        rgb = crop_rgb(crop)
        targets = crop_targets(detector, crop[None])
        rows = [targets.mask[0].numpy() > 0.5]
        for p in (refiners["fit"].estimate(crop[None]), refiners["fit"](crop[None], targets).params):
            with torch.no_grad():
                out = body(p.rotmats[:, 0], p.rotmats[:, 1:], p.shape)
                rows.append(crop_silhouette(renderer, out.vertices, p.camera)[0].numpy() > 0.5)
        tiles = []
        for silhouette, colour in zip(rows, ([60, 120, 255], [255, 60, 60], [60, 220, 60])):
            big = np.asarray(Image.fromarray(silhouette.astype(np.uint8) * 255).resize((224, 224), Image.Resampling.NEAREST)) > 0
            tile = rgb.astype(np.float32)
            tile[big] = 0.45 * tile[big] + 0.55 * np.array(colour)
            tiles.append(tile.astype(np.uint8))
        columns.append(np.concatenate(tiles, axis=0))
    Image.fromarray(np.concatenate(columns, axis=1)).save(path, quality=88)


def silhouette_ms(body) -> float:
    from openhmr.silhouette.soft import SoftSilhouette

    renderer = SoftSilhouette(body.faces, 64)
    with torch.no_grad():
        out = body(torch.zeros(32, 3), torch.randn(32, body.num_body_joints, 3) * 0.2, body.mean_shape.expand(32, -1))
    points = ((0.85 * out.vertices[..., :2] + 1) * 32).requires_grad_(True)
    times = []
    for _ in range(6):
        start = time.perf_counter()
        renderer(points).sum().backward()
        times.append(time.perf_counter() - start)
    return round(float(np.median(times[1:])) / 32 * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-run", help="training run with loss_silhouette (its folder)")
    parser.add_argument("--without-run", help="the same run without it")
    parser.add_argument("--synth-test", default="/work/data/run/test/annotations.npz")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--limit", type=int, default=300, help="LSP test people")
    parser.add_argument("--coco-limit", type=int, default=300, help="coco-mini val people")
    parser.add_argument("--synth-limit", type=int, help="synthetic test images for the mask IoU (default: all)")
    parser.add_argument("--no-synth", action="store_true", help="skip the two runs' synthetic measurements")
    parser.add_argument("--pictures", help="also save LSP test crops with the masks and silhouettes as this image")
    parser.add_argument("settings", nargs="*", help="FitSettings for the fit with the mask, e.g. silhouette=0.2")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.detect.mediapipe import MediaPipeDetector
    from openhmr.fit import FitSettings, Priors, Refiner
    from openhmr.nets.weights_io import load_hmr
    from openhmr.shipped import SHIPPED_WEIGHTS

    torch.manual_seed(0)
    body = load_body_model("anny")
    result: dict = {"silhouette_ms_per_image": silhouette_ms(body)}
    if not args.no_synth:
        with_sil = synthetic(Path(args.with_run), Path(args.synth_test), body, args.synth_limit)
        without = synthetic(Path(args.without_run), Path(args.synth_test), body, args.synth_limit)
        result.update(synth_pve_with=with_sil["pve"], synth_pve_without=without["pve"],
                      synth_pa_mpjpe_with=with_sil["pa_mpjpe"], synth_pa_mpjpe_without=without["pa_mpjpe"],
                      synth_mask_iou=with_sil["mask_iou"], synth_mask_iou_without=without["mask_iou"])
        result["synth_pve_change"] = round(with_sil["pve"] / without["pve"] - 1, 4)

    hmr = load_hmr(SHIPPED_WEIGHTS, body)
    priors = Priors.for_checkpoint(SHIPPED_WEIGHTS, body)
    settings = FitSettings.parse(args.settings)
    result["fit_settings"] = {"silhouette": settings.silhouette}
    refiners = {"fit": Refiner(hmr, "fit", priors, settings),
                "fit_nomask": Refiner(hmr, "fit", priors, FitSettings(silhouette=0.0))}
    detector = MediaPipeDetector()
    data = Path(args.data)
    sets = [("lsp", f"{data / 'lsp'}:test", "lsp14", args.limit),
            ("coco", str(data / "coco-mini" / "person_keypoints_val2017.json"), "coco17", args.coco_limit)]
    for key, spec, convention, limit in sets:
        if limit > 0:
            for name, value in real(spec, convention, limit, hmr, body, refiners, detector).items():
                result[f"{key}_{name}"] = value
    if args.pictures:
        pictures(Path(args.pictures), f"{data / 'lsp'}:test", 150, 6, hmr, body, refiners, detector)
    result["real_iou_before"] = result.get("lsp_iou_network")
    result["real_iou_refined"] = result.get("lsp_iou_fit")
    result["real_pck05_before"] = result.get("lsp_pck05_network")
    result["real_pck05_refined"] = result.get("lsp_pck05_fit")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
