"""Synthetic-image generator speed: `openhmr synth` on a small pose bank, one process.

Usage: python bench/synth_speed.py [--num 200] [--res 224] [--poses BANK.npz]
Without --poses a bank of random poses is written first. Reports whole-run throughput
(rendering, labels, JPEG writes); ``per_core`` divides by the machine's core count, since
OSMesa's rasteriser and torch may both use every core. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--res", type=int, default=224)
    parser.add_argument("--poses")
    args = parser.parse_args()

    from openhmr.data.synth import generate
    from openhmr.mocap.pose_bank import PoseBank

    work = Path(tempfile.mkdtemp())
    poses = args.poses
    if poses is None:
        rng = np.random.default_rng(0)
        n = 64
        poses = PoseBank(
            rng.normal(0, 0.2, (n, 30, 3)).astype(np.float32), np.zeros((n, 3), np.float32), np.zeros(n, np.int64),
            np.array(["random"]), np.arange(n), "anny",
        ).save(work / "bank.npz")  # fmt: skip
    generate(poses, 4, work / "warmup", res=args.res, progress=False)  # builds caches, compiles kernels
    start = time.perf_counter()
    generate(poses, args.num, work / "run", res=args.res, progress=False)
    seconds = time.perf_counter() - start
    cores = os.cpu_count() or 1
    rate = args.num / seconds
    print(json.dumps({"images_per_s": round(rate, 2), "per_core": round(rate / cores, 2), "res": args.res, "cores": cores}))


if __name__ == "__main__":
    main()
