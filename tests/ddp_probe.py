"""A training run that records what each process saw, for the distributed test in
``test_train.py``. Lightning's DDP launcher starts this script once more per extra process.

Usage: python ddp_probe.py RECORD_PREFIX OVERRIDE...
Writes ``RECORD_PREFIX.rank<R>.json`` per process: a fingerprint of every batch it trained on
and a hash of its network's parameters at the end.
"""

import hashlib
import json
import sys
from pathlib import Path

import torch

from openhmr.train import run
from openhmr.train.config import load_config


def recording(build):
    def build_and_record(config, start_batch=0):
        module, loader, paths = build(config, start_batch)
        seen: list[float] = []
        step = module.training_step

        def training_step(batch, *rest):
            seen.append(sum(float(v.double().sum()) for v in batch.values() if torch.is_tensor(v) and v.is_floating_point()))
            return step(batch, *rest)

        def on_train_end():
            weights = torch.cat([p.detach().flatten() for p in module.hmr.parameters()])
            record = {"batches": seen, "weights": hashlib.sha256(weights.numpy().tobytes()).hexdigest(),
                      "world_size": module.trainer.world_size}  # fmt: skip
            Path(f"{sys.argv[1]}.rank{module.global_rank}.json").write_text(json.dumps(record))

        module.training_step = training_step
        module.on_train_end = on_train_end
        return module, loader, paths

    return build_and_record


if __name__ == "__main__":
    run.build_training = recording(run.build_training)
    run.train(load_config(None, sys.argv[2:]))
