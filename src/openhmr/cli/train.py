"""``openhmr train``: train HMR."""

from __future__ import annotations

import argparse


def add_parser(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train HMR (Lightning; CPU by default)",
        description="Train HMR with a supervision regime (paired, partial, unpaired, 2d-only). "
        "Settings come from --config (TOML or JSON) and then KEY=VALUE overrides, e.g. "
        "`openhmr train data.poses=bank.npz regime=unpaired steps=2000`; `data.*` keys reach the "
        "data section. With no data.train, a synthetic set is rendered from the pose bank "
        "data.poses, its clips split into train / test / discriminator. Writes checkpoints, "
        "safetensors weights and TensorBoard logs into out_dir (default runs/default).",
    )
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings (see docs/training.md)")
    train.add_argument("--config", help="TOML or JSON file of settings")
    train.add_argument("--resume", help="Lightning checkpoint (.ckpt) or run folder (its checkpoints/last.ckpt) to continue from")
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.io import writable_folder
    from openhmr.train.config import load_config
    from openhmr.train.run import train

    config = load_config(args.config, args.overrides)
    if args.resume is None:  # a resume is checked first by train(), before anything is created
        writable_folder(config.out_dir, "out_dir")
    print(train(config, resume=args.resume))
    return 0
