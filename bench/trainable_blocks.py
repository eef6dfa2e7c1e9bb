"""What training more encoder blocks costs on this machine: forward + backward of the part of
EfficientNet-Lite0 that trains, from cached trunk outputs, for each number of frozen blocks.

    python bench/trainable_blocks.py [--batch-size 32] [--rounds 5]

Ratios within one run (seconds per step against the 6-frozen recipe). Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from openhmr.nets.encoder import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder()
    images = torch.rand(args.batch_size, 3, 224, 224)
    seconds = {}
    for frozen in (6, 5, 4):
        with torch.no_grad():
            trunk = encoder.trunk(images, frozen)
        for p in encoder.parameters():
            p.requires_grad_(True)
        for p in encoder.trunk_parameters(frozen):
            p.requires_grad_(False)
        times = []
        for _ in range(args.rounds + 1):
            start = time.perf_counter()
            encoder.head(trunk, frozen).sum().backward()
            times.append(time.perf_counter() - start)
        seconds[frozen] = min(times[1:])
    print(json.dumps({
        **{f"frozen{k}_s_per_step": round(v, 3) for k, v in seconds.items()},
        **{f"frozen{k}_over_frozen6": round(v / seconds[6], 2) for k, v in seconds.items()},
        "batch_size": args.batch_size, "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
