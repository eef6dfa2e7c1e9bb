"""What an accelerator gives: the whole HMR network (encoder trainable end to end) on a CUDA GPU
against this machine's CPU, in one run, and whether both compute the same network.

Usage: python bench/device_speed.py [--encoders blazepose-full,blazepose-heavy] [--batch-size 64]
       [--smpl PATH] [--steps 20]

For each encoder: a training step (encoder + IEF regressor + body decode of every iteration,
2D keypoint loss, backward, Adam), in fp32 and under bf16 autocast, and inference
(``decode="final"``), in samples/s on each device; and the largest difference between the CPU
and GPU networks' 2D keypoints (crop pixels) and vertices (mm) on the same crops. The body is an
SMPL-format file (made-up values with SMPL's shapes, built here unless ``--smpl``): it has
SMPL's vertex and joint counts, so it costs what SMPL costs. The CPU is timed on fewer steps
(it is ~100x slower). Without a GPU only the CPU rows are printed. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def _synchronise(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _rate(step, batch: int, steps: int, device: str) -> float:
    """Median samples/s of ``step()`` over ``steps`` calls after two warm-ups."""
    times = []
    for i in range(steps + 2):
        _synchronise(device)
        start = time.perf_counter()
        step()
        _synchronise(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def measure(hmr, crops: torch.Tensor, targets: torch.Tensor, device: str, steps: int, bf16: bool) -> dict:
    """Training and inference samples/s of ``hmr`` on ``device``; crops (B, 3, 256, 256),
    targets (B, K, 2) in crop pixels."""
    hmr = hmr.to(device).train()
    crops, targets = crops.to(device), targets.to(device)
    optimiser = torch.optim.Adam(hmr.parameters(), lr=1e-5)

    def train_step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            predictions = hmr(crops, decode="all")
        loss = sum((p.keypoints2d.float() - targets).abs().mean() for p in predictions)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    @torch.no_grad()
    def infer():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            hmr.eval()(crops, decode="final")
        hmr.train()

    return {"train": _rate(train_step, len(crops), steps, device), "infer": _rate(infer, len(crops), steps, device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="blazepose-full,blazepose-heavy")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps on the GPU (the CPU gets 3)")
    parser.add_argument("--smpl", type=Path, help="an SMPL-format .npz/.pkl (default: made-up arrays)")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.nets.hmr import build_hmr

    smpl = args.smpl
    if smpl is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from smpl_fixture import write_smpl_like_npz

        smpl = write_smpl_like_npz(Path(tempfile.mkdtemp(prefix="openhmr-device-")) / "SMPL_TEST.npz", seed=3)
    body = load_body_model(smpl)
    cuda = torch.cuda.is_available()
    generator = torch.Generator().manual_seed(0)
    crops = torch.rand(args.batch_size, 3, 256, 256, generator=generator)
    rows = {"gpu": torch.cuda.get_device_name() if cuda else None, "cpu_threads": torch.get_num_threads(),
            "batch_size": args.batch_size, "body": "smpl-format (6,890 vertices)"}  # fmt: skip
    for name in args.encoders.split(","):
        torch.manual_seed(0)
        hmr = build_hmr(body.cpu(), name)  # the body is shared: the last encoder's run left it on the GPU
        targets = torch.rand(args.batch_size, len(hmr.keypoint_names), 2, generator=generator) * 256
        with torch.no_grad():
            reference = hmr.eval()(crops[:8], decode="final")[-1]
        cpu = measure(hmr, crops[:8], targets[:8], "cpu", 3, bf16=False)
        row = {"cpu_train_samples_per_s": round(cpu["train"], 2), "cpu_infer_samples_per_s": round(cpu["infer"], 2)}
        if cuda:
            torch.manual_seed(0)
            hmr = build_hmr(body.cpu(), name)  # the same untouched weights: measure() trained the CPU copy
            torch.backends.cudnn.allow_tf32 = False  # parity in fp32; TF32 is a speed choice
            with torch.no_grad():
                on_gpu = hmr.to("cuda").eval()(crops[:8].cuda(), decode="final")[-1]
            row["gpu_vs_cpu_keypoints_px"] = float((on_gpu.keypoints2d.cpu() - reference.keypoints2d).abs().max())
            row["gpu_vs_cpu_vertices_mm"] = float(1000 * (on_gpu.vertices.cpu() - reference.vertices).abs().max())
            torch.backends.cudnn.allow_tf32 = True
            for precision, bf16 in (("fp32", False), ("bf16", True)):
                gpu = measure(hmr, crops, targets, "cuda", args.steps, bf16=bf16)
                row[f"gpu_{precision}_train_samples_per_s"] = round(gpu["train"], 1)
                row[f"gpu_{precision}_infer_samples_per_s"] = round(gpu["infer"], 1)
            row["gpu_over_cpu_train"] = round(row["gpu_bf16_train_samples_per_s"] / cpu["train"], 1)
            row["gpu_peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            torch.cuda.reset_peak_memory_stats()
        rows[name] = row
        print(name, row, flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
