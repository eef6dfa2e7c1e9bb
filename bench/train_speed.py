"""Training throughput against the bare backbone, in one run.

Usage: python bench/train_speed.py [--steps 20] [--batch-size 16] [--frozen-blocks off]

A small synthetic set (random poses, rendered here) feeds the real training loop (Lightning,
manual optimisation): data loading and augmentation, encoder, IEF regressor, body model,
losses, both optimisers and the discriminator's step. Its samples/s are set against the
backbone's forward + backward alone on the same batch size. With ``--frozen-blocks N`` the
loop trains from cached features instead (the CPU recipe); the backbone is then measured with
those blocks frozen as well, so compare that run's train_samples_per_s with the image run's,
not its ratio. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frozen-blocks", default="off", help="off (train on images), none or a block count")
    parser.add_argument("--regime", default="partial")
    args = parser.parse_args()

    import lightning as L

    from openhmr.mocap.pose_bank import PoseBank
    from openhmr.train.config import load_config
    from openhmr.train.run import (
        build_training,
        quiet_lightning,
    )

    work = Path(tempfile.mkdtemp(prefix="openhmr-train-speed-"))
    rng = np.random.default_rng(0)
    n = 60
    bank = PoseBank(
        rng.normal(0, 0.2, (n, 30, 3)).astype(np.float32), np.zeros((n, 3), np.float32), np.repeat(np.arange(6), 10),
        np.array(list("abcdef")), np.arange(n), "anny",
    )  # fmt: skip
    bank.save(work / "bank.npz")
    config = load_config(None, [
        f"data.poses={work / 'bank.npz'}", f"data.work_dir={work / 'data'}", f"data.num_train={4 * args.batch_size}",
        "data.num_test=4", f"batch_size={args.batch_size}", f"steps={args.steps}", f"frozen_blocks={args.frozen_blocks}",
        f"regime={args.regime}", f"out_dir={work / 'run'}", "progress=false", f"checkpoint_every={10 * args.steps}",
    ])  # fmt: skip
    module, loader, _ = build_training(config)

    class StepTimer(L.Callback):
        def __init__(self):
            self.ends: list[float] = []

        def on_train_batch_end(self, *_):
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    quiet_lightning()
    trainer = L.Trainer(
        max_steps=args.steps * config.optimiser_steps_per_batch, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )  # fmt: skip
    trainer.fit(module, loader)
    step_times = np.diff(timer.ends)[2:]  # from one batch's end to the next: loading included
    train_rate = args.batch_size / statistics.median(step_times)

    encoder = module.hmr.encoder.train()
    images = torch.rand(args.batch_size, 3, config.data.res, config.data.res)
    times = []
    for _ in range(8):
        start = time.perf_counter()
        encoder(images).square().sum().backward()
        times.append(time.perf_counter() - start)
    encoder.zero_grad(set_to_none=True)
    backbone_rate = args.batch_size / statistics.median(times[2:])
    print(json.dumps({
        "train_samples_per_s": round(train_rate, 2),
        "backbone_fwdbwd_samples_per_s": round(backbone_rate, 2),
        "ratio": round(train_rate / backbone_rate, 3),
        "batch_size": args.batch_size, "frozen_blocks": args.frozen_blocks, "regime": args.regime,
        "steps_timed": len(step_times), "threads": torch.get_num_threads(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
