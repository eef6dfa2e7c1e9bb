"""The HMR paper's weak-supervision ablation on synthetic data we can make.

Usage: python bench/weak_supervision.py [--poses BANK.npz] [--steps 600] [--lr 3e-4] [--work-dir DIR]

One CMU pose bank is split by clip into train / test / discriminator clips; images are
rendered from the train and test clips. Four models train with the same number of steps
(the same CPU budget, give or take the discriminator) on the same cached features:
  paired     2D + 3D joints + parameters on every image, + discriminator
  partial10  2D on every image, 3D joints + parameters on 10% of them, + discriminator
  unpaired   2D + discriminator on unpaired mocap (no 3D at all)
  2d-only    2D alone (HMR's "monsters" case)
Each is evaluated on the held-out test clips. The monster rate uses the train and
discriminator clips as the reference bank; the same measure on the real test poses is
reported as ``monster_rate_real_test_poses`` (the floor); the rate is also split into impossible
shapes and unseen joint rotations. ``--eval-only`` re-measures models already trained. Writes
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
REGIMES = {"paired": ["regime=paired"], "partial10": ["regime=partial", "labelled_fraction=0.1"],
           "unpaired": ["regime=unpaired"], "2d-only": ["regime=2d-only"]}  # fmt: skip


def pose_bank(path: Path | None, work_dir: Path) -> Path:
    if path is not None:
        return path
    from openhmr.body import load_body_model
    from openhmr.cli import _motion_files
    from openhmr.data.mocap_bank import build_pose_bank

    target = work_dir / "cmu_bank.npz"
    if not target.exists():
        if not SHARED_MOCAP.is_dir():
            sys.exit(f"No --poses given and no CMU mocap at {SHARED_MOCAP}.")
        bank, _ = build_pose_bank(_motion_files([str(SHARED_MOCAP)]), load_body_model("anny"), 5.0, None)
        bank.save(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=Path, help="pose bank (default: built from ../shared/data/cmu-mocap)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "weak_supervision")
    parser.add_argument("--num-train", type=int, default=6000)
    parser.add_argument("--num-test", type=int, default=600)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--eval-only", action="store_true", help="re-evaluate the models already trained in --work-dir")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "weak_supervision.json")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.pose_bank import PoseBank
    from openhmr.geometry.rotations import axis_angle_to_matrix
    from openhmr.train.checkpoint import load_hmr
    from openhmr.train.config import load_config
    from openhmr.train.evaluate import evaluate
    from openhmr.train.monsters import monster_kinds
    from openhmr.train.run import prepare_data, train

    args.work_dir.mkdir(parents=True, exist_ok=True)
    bank = pose_bank(args.poses, args.work_dir)
    common = [f"data.poses={bank}", f"data.work_dir={args.work_dir / 'data'}", f"data.num_train={args.num_train}",
              f"data.num_test={args.num_test}", f"steps={args.steps}", f"batch_size={args.batch_size}", f"lr={args.lr}",
              f"checkpoint_every={args.steps}"]  # fmt: skip
    paths = prepare_data(load_config(None, common))
    banks = args.work_dir / "data" / "banks"
    reference = PoseBank.concatenate([PoseBank.load(banks / "train.npz"), PoseBank.load(banks / "discriminator.npz")])
    body = load_body_model("anny")
    test = read_spin_npz(paths["test"])
    real = axis_angle_to_matrix(torch.from_numpy(test.pose).float().view(len(test), -1, 3))[:, 1:]
    bad_shape, bad_joint = monster_kinds(real, torch.from_numpy(test.shape).float(), reference, body.shape_low, body.shape_high)
    floor = float((bad_shape | bad_joint).mean())

    results = {}
    previous_report = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous = previous_report.get("regimes", {})
    for name in args.regimes.split(","):
        out_dir = args.work_dir / name
        if args.eval_only:
            weights, minutes = out_dir / "model.safetensors", previous.get(name, {}).get("train_minutes")
        else:
            start = time.perf_counter()
            weights = train(load_config(None, [*common, *REGIMES[name], f"out_dir={out_dir}", "progress=false"]))
            minutes = round((time.perf_counter() - start) / 60, 1)
        metrics = evaluate(load_hmr(weights, body), test, "synth", monster_bank=reference, progress=False)
        keys = ("mpjpe", "pa_mpjpe", "pve", "pck05", "monster_rate", "monster_rate_shape", "monster_rate_joints")
        results[name] = {**{k: metrics[k] for k in keys}, "train_minutes": minutes}
        print(name, json.dumps(results[name]), flush=True)
    regimes = {**previous, **results}
    this_command = "python " + " ".join([str(Path(sys.argv[0]).relative_to(ROOT)) if Path(sys.argv[0]).is_absolute() else sys.argv[0], *sys.argv[1:]])
    report = {
        "regimes": regimes,
        "command": previous_report.get("command", this_command) if args.eval_only else this_command,
        "test_images": len(test),
        "train_images": args.num_train,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "monster_rate_real_test_poses": round(floor, 4),
        "clips": {k: [str(c) for c in PoseBank.load(banks / f"{k}.npz").clip_names] for k in ("train", "test", "discriminator")},
    }
    if args.eval_only:
        report["reevaluated_with"] = this_command
    if "paired" in regimes and "unpaired" in regimes:
        report["unpaired_over_paired_pa_mpjpe"] = round(regimes["unpaired"]["pa_mpjpe"] / regimes["paired"]["pa_mpjpe"], 3)
    if "2d-only" in regimes and "unpaired" in regimes:
        for suffix in ("", "_joints"):
            a, b = regimes["2d-only"].get("monster_rate" + suffix), regimes["unpaired"].get("monster_rate" + suffix)
            report[f"monsters{suffix}_2d_only_over_unpaired"] = round(a / b, 2) if a is not None and b else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "clips"}))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
