"""The HMR paper's weak-supervision ablation, in the paper's setting: real 2D photos in every
regime, synthetic images whose 3D labels each regime keeps or withholds.

Usage: python bench/weak_supervision.py [--poses BANK.npz] [--real SOURCES] [--seeds 0,1]
       [--steps 600] [--lr 3e-4] [--work-dir DIR] [--data-dir DIR]

One CMU pose bank is split by clip into train / test / discriminator clips; images are
rendered from the train and test clips. Every batch is half real photos with 2D labels
(``--real``, default LSP train + LSP-extended + coco-mini train) and half synthetic images.
Four regimes train for the same number of steps on the same cached features, each with every
seed of ``--seeds``:
  paired     synthetic: 2D + 3D joints + parameters on every image, + discriminator
  partial10  synthetic: 2D on every image, 3D + parameters on 10% of them, + discriminator
  unpaired   2D + discriminator on unpaired mocap (no 3D anywhere)
  2d-only    2D alone (HMR's "monsters" case)
Each model is evaluated on the held-out synthetic test clips (3D) and on LSP test (2D PCK).
The monster rate's reference bank holds the training clips only (the discriminator's clips
would favour the regimes that saw them); the same measure on the real test poses is reported
as ``monster_rate_real_test_poses`` (the floor). Results are fresh from this run (never merged
with an older file); ``--eval-only`` re-measures models already trained in --work-dir. Writes
docs/results/weak_supervision.json and prints a JSON line last.
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
SHARED_MOCAP = ROOT / ".." / "shared" / "data" / "cmu-mocap"
SHARED_REAL = ROOT.parent / "shared" / "data" / "real"
DEFAULT_REAL = ",".join(
    [f"{SHARED_REAL / 'lsp'}:train", str(SHARED_REAL / "lspet"), str(SHARED_REAL / "coco-mini" / "person_keypoints_train2017.json")]
)
REGIMES = {"paired": ["regime=paired"], "partial10": ["regime=partial", "labelled_fraction=0.1"],
           "unpaired": ["regime=unpaired"], "2d-only": ["regime=2d-only"]}  # fmt: skip


def pose_bank(path: Path | None, work_dir: Path) -> Path:
    if path is not None:
        return path
    from openhmr.body import load_body_model
    from openhmr.cli.mocap import motion_files
    from openhmr.mocap.cmu_bank import build_pose_bank

    target = work_dir / "cmu_bank.npz"
    if not target.exists():
        if not SHARED_MOCAP.is_dir():
            sys.exit(f"No --poses given and no CMU mocap at {SHARED_MOCAP}.")
        bank, _ = build_pose_bank(motion_files([str(SHARED_MOCAP)]), load_body_model("anny"), 5.0, None)
        bank.save(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=Path, help="pose bank (default: built from ../shared/data/cmu-mocap)")
    parser.add_argument("--real", default=DEFAULT_REAL, help="real 2D sources, as data.real (empty: synthetic only)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "weak_supervision")
    parser.add_argument("--data-dir", type=Path, help="rendered sets and feature caches (default: WORK_DIR/data; "
                        "share it with a training run's data.work_dir to reuse its renders and caches)")
    parser.add_argument("--num-train", type=int, default=6000)
    parser.add_argument("--num-test", type=int, default=600)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--frozen-blocks", default="6", help="encoder blocks frozen and cached (the shipped recipe: 6)")
    parser.add_argument("--eval-only", action="store_true", help="re-evaluate the models already trained in --work-dir")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "weak_supervision.json")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.data.formats import read_spin_npz
    from openhmr.eval.evaluate import evaluate, evaluate_2d, read_eval_set
    from openhmr.eval.monsters import monster_kinds
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.mocap.pose_bank import PoseBank
    from openhmr.nets.weights_io import load_hmr
    from openhmr.train.config import load_config
    from openhmr.train.run import prepare_data, train

    args.work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = args.data_dir or args.work_dir / "data"
    bank = pose_bank(args.poses, args.work_dir)
    common = [f"data.poses={bank}", f"data.work_dir={data_dir}", f"data.num_train={args.num_train}",
              f"data.num_test={args.num_test}", f"steps={args.steps}", f"batch_size={args.batch_size}", f"lr={args.lr}",
              f"checkpoint_every={args.steps}", "lr_schedule=cosine", f"frozen_blocks={args.frozen_blocks}"]  # fmt: skip
    if args.real:
        common.append(f"data.real={args.real}")
    paths = prepare_data(load_config(None, common))
    banks = data_dir / "banks"
    reference = PoseBank.load(banks / "train.npz")  # training clips only: fair to every regime
    body = load_body_model("anny")
    test = read_spin_npz(paths["test"])
    lsp_test = read_eval_set(f"{SHARED_REAL / 'lsp'}:test", "lsp") if (SHARED_REAL / "lsp").is_dir() else None
    real = axis_angle_to_matrix(torch.from_numpy(test.pose).float().view(len(test), -1, 3))[:, 1:]
    bad_shape, bad_joint = monster_kinds(real, torch.from_numpy(test.shape).float(), reference, body.shape_low, body.shape_high)
    floor = float((bad_shape | bad_joint).mean())

    keys = ("mpjpe", "pa_mpjpe", "pve", "pck05", "monster_rate", "monster_rate_shape", "monster_rate_joints")
    runs: dict[str, dict[str, dict]] = {}
    for name in args.regimes.split(","):
        runs[name] = {}
        for seed in (int(s) for s in args.seeds.split(",")):
            out_dir = args.work_dir / f"{name}-seed{seed}"
            start = time.perf_counter()
            if args.eval_only:
                weights = out_dir / "model.safetensors"
            else:
                config = load_config(None, [*common, *REGIMES[name], f"seed={seed}", f"out_dir={out_dir}", "progress=false"])
                weights = train(config)
            minutes = None if args.eval_only else round((time.perf_counter() - start) / 60, 1)
            hmr = load_hmr(weights, body)
            metrics = evaluate(hmr, test, "synth", monster_bank=reference, progress=False)
            row = {**{k: metrics[k] for k in keys}, "train_minutes": minutes}
            if lsp_test is not None:
                lsp = evaluate_2d(hmr, lsp_test, "lsp", progress=False)
                row.update(lsp_pck05=lsp["pck05"], lsp_pck10=lsp["pck10"])
            runs[name][str(seed)] = row
            print(name, seed, json.dumps(row), flush=True)
    regimes = {name: _mean(by_seed) for name, by_seed in runs.items()}
    this_command = "python " + " ".join([str(Path(sys.argv[0]).relative_to(ROOT)) if Path(sys.argv[0]).is_absolute() else sys.argv[0], *sys.argv[1:]])
    report = {
        "regimes": regimes,
        "per_seed": runs,
        "command": this_command,
        "real_sources": args.real,
        "test_images": len(test),
        "train_images": args.num_train,
        "steps": args.steps,
        "frozen_blocks": args.frozen_blocks,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "monster_reference": "training clips only",
        "monster_rate_real_test_poses": round(floor, 4),
        "clips": {k: [str(c) for c in PoseBank.load(banks / f"{k}.npz").clip_names] for k in ("train", "test", "discriminator")},
    }
    if "paired" in regimes and "unpaired" in regimes:
        report["unpaired_over_paired_pa_mpjpe"] = round(regimes["unpaired"]["pa_mpjpe"] / regimes["paired"]["pa_mpjpe"], 3)
    if "2d-only" in regimes and "unpaired" in regimes:
        for suffix in ("", "_joints"):
            a, b = regimes["2d-only"].get("monster_rate" + suffix), regimes["unpaired"].get("monster_rate" + suffix)
            report[f"monsters{suffix}_2d_only_over_unpaired"] = round(a / b, 2) if a is not None and b else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("clips", "per_seed")}))


def _mean(by_seed: dict[str, dict]) -> dict:
    """Each metric's mean over seeds (None stays None)."""
    rows = list(by_seed.values())
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = round(float(np.mean(values)), 4) if values else None
    return out


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
