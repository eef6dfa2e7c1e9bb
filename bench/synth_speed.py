"""Synthetic-image generator speed: `openhmr synth` on a small pose bank, one process, each
renderer in the same run.

Usage: python bench/synth_speed.py [--num 200] [--res 224] [--poses BANK.npz] [--look photo|plain]
       [--backgrounds ../shared/data/backgrounds] [--renderers moderngl,pyrender] [--workers 2]
Without --poses a bank of random poses is written first. Reports whole-run throughput
(labels, rendering, compositing, JPEG and mask writes) per renderer; ``per_core`` divides by
the machine's core count, since Mesa's rasterisers and torch may both use every core, and
``speedup`` is the first renderer's rate over the last's. ``<renderer>_one_thread_images_per_s``:
the first renderer in this process held to one thread (torch and Mesa's rasteriser), as each
worker runs: one core's rate. ``<renderer>_workers<N>_images_per_s``: the first renderer with
N worker processes, their start-up included; ``..._after_startup``: the same once they run
(the call on N images, start-up and one image each, subtracted), and ``..._per_core`` that
over the cores. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--res", type=int, default=224)
    parser.add_argument("--poses")
    parser.add_argument("--look", default="photo")
    parser.add_argument("--backgrounds", default=str(ROOT.parent / "shared" / "data" / "backgrounds"),
                        help="backdrop photos (procedural backdrops when the folder is absent)")
    parser.add_argument("--renderers", default="moderngl,pyrender")
    parser.add_argument("--workers", type=int, default=2, help="also time the first renderer with this many worker processes (1: skip)")
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
    backgrounds = args.backgrounds if Path(args.backgrounds).is_dir() else None
    cores = os.cpu_count() or 1
    result: dict = {"res": args.res, "look": args.look, "num": args.num, "cores": cores, "photo_backdrops": backgrounds is not None}
    renderers = args.renderers.split(",")
    for renderer in renderers:
        settings = {"res": args.res, "progress": False, "look": args.look, "backgrounds": backgrounds, "renderer": renderer}
        generate(poses, 4, work / f"warmup-{renderer}", **settings)  # builds caches, compiles kernels
        start = time.perf_counter()
        generate(poses, args.num, work / f"run-{renderer}", **settings)
        rate = args.num / (time.perf_counter() - start)
        result[f"{renderer}_images_per_s"] = round(rate, 2)
        result[f"{renderer}_per_core"] = round(rate / cores, 2)
    first = {"res": args.res, "progress": False, "look": args.look, "backgrounds": backgrounds, "renderer": renderers[0]}
    threads = torch.get_num_threads()
    os.environ["LP_NUM_THREADS"] = "1"  # read when the GL context is made, as in every worker
    torch.set_num_threads(1)
    start = time.perf_counter()
    generate(poses, args.num, work / "run-one-thread", **first)
    result[f"{renderers[0]}_one_thread_images_per_s"] = round(args.num / (time.perf_counter() - start), 2)
    del os.environ["LP_NUM_THREADS"]
    torch.set_num_threads(threads)
    if args.workers > 1:
        start = time.perf_counter()
        generate(poses, args.workers, work / "run-workers-startup", workers=args.workers, **first)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        generate(poses, args.num, work / "run-workers", workers=args.workers, **first)
        elapsed = time.perf_counter() - start
        key = f"{renderers[0]}_workers{args.workers}"
        result[f"{key}_images_per_s"] = round(args.num / elapsed, 2)
        result[f"{key}_startup_s"] = round(startup, 2)
        after = (args.num - args.workers) / max(elapsed - startup, 1e-9)
        result[f"{key}_images_per_s_after_startup"] = round(after, 2)
        result[f"{key}_per_core"] = round(after / cores, 2)
    if len(renderers) > 1:
        result["speedup"] = round(result[f"{renderers[0]}_images_per_s"] / result[f"{renderers[-1]}_images_per_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
