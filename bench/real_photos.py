"""The network alone on real photos and on the held-out synthetic test set.

    python bench/real_photos.py [--data ../shared/data/real] [--checkpoint W] [--synth-test runs/data/test/annotations.npz] [--upright] [--flip]

LSP test (images 1001-2000) and coco-mini val: PCK@0.05 / @0.1 of the person's box, the
labelled box given (LSP: the labelled joints' extent; COCO: its box), on the joints the model
predicts; ``lsp_test_facing``: the share of LSP test people (both shoulders labelled) whose
predicted shoulders are in the labelled left-right order; ``lsp_test_unusual_*``: PCK on the
LSP test people whose torso leans more than 45° from upright (see :func:`not_upright`). Synthetic: PA-MPJPE on the test
clips' COCO-23 keypoints (mm). ``ms_per_person``: the network on a batch of 16 crops, one pass
(``predict --no-flip``), per crop; ``ms_per_person_upright`` with the detector pass that
``--upright`` adds, ``ms_per_person_flip`` with the mirrored pass that ``--flip`` adds. Every crop is cut at the network's own ``crop_margin`` (saved
with its weights; the labelled box widened by crop_margin / 1.3), as ``predict`` cuts it;
``--upright``: turned upright by MediaPipe's person detector on the crop, as ``predict --upright`` cuts it;
``--flip``: each answer averaged with the one on the mirrored crop, as ``predict`` does by default;
without it the network's single pass is scored.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"), help="folder with lsp/ and coco-mini/")
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    parser.add_argument("--synth-test", default=str(ROOT / "runs" / "data" / "test" / "annotations.npz"),
                        help="held-out synthetic annotations (rendered by `openhmr train`; skipped when absent)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N people of each set (quick checks)")
    parser.add_argument("--upright", action=argparse.BooleanOptionalAction, default=None,
                        help="crops turned upright, as `predict --upright` cuts them (default: as the network was trained)")
    parser.add_argument("--flip", action="store_true", help="answers averaged with the mirrored crop's, as `predict` does by default")
    parser.add_argument("--skip-real", action="store_true", help="only the synthetic test set")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.eval.evaluate import evaluate, evaluate_2d, read_eval_set
    from openhmr.nets.weights_io import load_hmr, read_metadata
    from openhmr.shipped import SHIPPED_WEIGHTS

    checkpoint = Path(args.checkpoint) if args.checkpoint else SHIPPED_WEIGHTS
    arch, _ = read_metadata(checkpoint)
    body = load_body_model(arch["body_model"])
    hmr = load_hmr(checkpoint, body)
    data = Path(args.data)
    # Relative to the repository when inside it: results files carry no machine's paths.
    result: dict = {"checkpoint": str(checkpoint.resolve().relative_to(ROOT)) if checkpoint.resolve().is_relative_to(ROOT) else checkpoint.name,
                    "crop_margin": hmr.crop_margin, "upright": hmr.reads_upright(args.upright), "flip": args.flip}

    def limited(ann):
        return subset(ann, slice(args.limit)) if args.limit else ann

    start = time.perf_counter()
    for key, spec, protocol in (("lsp_test", f"{data / 'lsp'}:test", "lsp"),
                                ("coco_val", str(data / "coco-mini" / "person_keypoints_val2017.json"), "coco")):  # fmt: skip
        if args.skip_real:
            break
        metrics = evaluate_2d(hmr, limited(read_eval_set(spec, protocol)), protocol, upright=args.upright, flip=args.flip)
        result[f"{key}_pck05"], result[f"{key}_pck10"] = metrics["pck05"], metrics["pck10"]
        result[f"{key}_people"] = metrics["num_images"]
        result[f"{key}_dropped"] = len(metrics["dropped"])
        result[f"{key}_per_joint_pck10"] = metrics["per_joint_pck10"]
        if key == "lsp_test":
            result["lsp_test_facing"], result["lsp_test_facing_people"] = metrics["facing"], metrics["facing_people"]
            lsp = limited(read_eval_set(spec, protocol))
            unusual = evaluate_2d(hmr, subset(lsp, not_upright(lsp.keypoints2d)), protocol, upright=args.upright, flip=args.flip)
            result["lsp_test_unusual_pck05"], result["lsp_test_unusual_pck10"] = unusual["pck05"], unusual["pck10"]
            result["lsp_test_unusual_people"] = unusual["num_images"]
    synth = Path(args.synth_test)
    result["synth_pa_mpjpe"] = result["synth_mpjpe"] = None
    if synth.is_file():
        metrics = evaluate(hmr, limited(read_eval_set(synth, "synth")), "synth", upright=args.upright, flip=args.flip)
        result["synth_pa_mpjpe"], result["synth_mpjpe"] = metrics["pa_mpjpe"], metrics["mpjpe"]
        result["synth_pck05"] = metrics["pck05"]
    # All three passes, whichever crops were scored: their ratios are measured in one run.
    result["ms_per_person"], result["ms_per_person_upright"], result["ms_per_person_flip"] = _ms_per_person(checkpoint, arch["body_model"])
    result["seconds"] = round(time.perf_counter() - start, 1)
    line = json.dumps(result)
    if args.out:
        from openhmr.io import write_json

        write_json(args.out, result)
    print(line)


def subset(ann, which):
    """The annotations of the people ``which`` (a slice or a boolean mask) selects."""
    import dataclasses

    import numpy as np

    n = len(ann.imgname)
    for field in dataclasses.fields(ann):
        value = getattr(ann, field.name)
        if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            setattr(ann, field.name, value[which])
    return ann


def not_upright(keypoints):
    """(N,) bool: LSP people (keypoints (N, 14, 3)) whose hips-to-neck line, all three
    labelled, leans more than 45° from upright: the divers, gymnasts and riders bent over
    that the model card lists as failures."""
    import numpy as np

    hips, neck = keypoints[:, [2, 3], :2].mean(1), keypoints[:, 12, :2]
    seen = (keypoints[:, [2, 3, 12], 2] > 0).all(1)
    up = neck - hips
    angle = np.degrees(np.arctan2(np.abs(up[:, 0]), -up[:, 1]))  # 0 upright, 180 upside down
    return seen & (angle > 45)


def _ms_per_person(checkpoint: Path, body_model: str, batch: int = 16, repeats: int = 7) -> tuple[float, float, float]:
    """Milliseconds per person of predict's network pass on crops: plain, with the detector
    pass that ``--upright`` adds, with the mirrored pass of ``--flip`` (best of ``repeats``
    each, interleaved)."""
    import torch

    from openhmr.detect.mediapipe import crop_rgb
    from openhmr.detect.upright import UprightTurn
    from openhmr.predict.predictor import load_model

    model = load_model(checkpoint=checkpoint, body_model=body_model, detector=None, flip=False)  # each pass says its own
    crops = torch.rand(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    turn, pixels = UprightTurn(), crop_rgb(crops)

    def upright():
        turn(pixels)  # the detector on each crop (the second cut is not counted, as the first is not)
        model.run_crops(crops)

    passes = {"plain": lambda: model.run_crops(crops), "upright": upright, "flip": lambda: model.run_crops(crops, flip=True)}
    best = {}
    for _ in range(2):  # warm-up: first-call allocations and oneDNN kernels
        for fn in passes.values():
            fn()
    for _ in range(repeats):
        for name, fn in passes.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return tuple(round(1000 * best[name] / batch, 1) for name in ("plain", "upright", "flip"))


if __name__ == "__main__":
    main()
