"""Prediction speed on pre-decoded crops, against the bare backbone, in one run.

Usage: python bench/predict_speed.py [--checkpoint W.safetensors] [--rounds 10] [--channels-last] [--optimise]

predict = encoder + IEF regressor + body model (mesh, joints, keypoints) + the full-image
camera, i.e. everything ``Model.predict`` does after the crop (detection and decoding are
left out). The backbone's effective FLOP rate is its counted FLOPs (torch's FLOP counter) per
second, set against a large float32 matmul's rate on the same machine. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch


def timed(fn, rounds: int) -> float:
    """Median seconds of ``fn()`` after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak_gflops(rounds: int) -> float:
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / timed(lambda: a @ b, rounds) / 1e9


def backbone_flops(encoder, crops: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(crops)
    return float(counter.get_total_flops())


def photo_crops(count: int) -> torch.Tensor:
    """Crops of scikit-image's astronaut photo at varied boxes, 224², in [0, 1]."""
    from skimage import data

    from openhmr.data.augment import crop_matrix, warp_image

    image = data.astronaut()
    rng = np.random.default_rng(0)
    crops = [warp_image(image, crop_matrix(rng.uniform(200, 312, 2), rng.uniform(300, 500), 224), 224) for _ in range(count)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="weights (default: the shipped model)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--channels-last", action="store_true", help="run the backbone in channels-last memory format")
    parser.add_argument("--optimise", action="store_true", help="trace and freeze the encoder (Model.optimise_for_cpu)")
    args = parser.parse_args()
    torch.manual_seed(0)

    from openhmr.predict.detect import Detection
    from openhmr.predict.predictor import load_model

    model = load_model(args.checkpoint, detector=None)
    if args.channels_last:
        model.hmr.encoder.to(memory_format=torch.channels_last)
    flops = backbone_flops(model.hmr.encoder, photo_crops(args.batch_size))  # counted on the eager module
    if args.optimise:
        model.optimise_for_cpu()
    encoder = model.hmr.encoder
    b = args.batch_size
    crops = photo_crops(b)
    if args.channels_last:
        crops = crops.contiguous(memory_format=torch.channels_last)
    centres, sizes = np.full((b, 2), 256.0), np.full(b, 400.0)
    boxes = [Detection((56.0, 56.0, 400.0, 400.0), 1.0)] * b

    def predict(n: int):
        return lambda: model.people_from_crops(crops[:n], centres[:n], sizes[:n], (512, 512), boxes[:n])

    def backbone(n: int):
        def run():
            with torch.no_grad():
                encoder(crops[:n])

        return run

    # Interleave the two so that machine noise hits both alike.
    predict_b, backbone_b, predict_1, backbone_1 = [], [], [], []
    for _ in range(3):
        predict_b.append(timed(predict(b), args.rounds))
        backbone_b.append(timed(backbone(b), args.rounds))
        predict_1.append(timed(predict(1), args.rounds))
        backbone_1.append(timed(backbone(1), args.rounds))
    t_predict, t_backbone = min(predict_b), min(backbone_b)
    peak = matmul_peak_gflops(args.rounds)
    print(
        json.dumps(
            {
                f"predict_imgs_per_s_b{b}": round(b / t_predict, 2),
                f"backbone_imgs_per_s_b{b}": round(b / t_backbone, 2),
                "ratio": round(t_backbone / t_predict, 3),
                "latency_ms_b1": round(min(predict_1) * 1000, 1),
                "backbone_latency_ms_b1": round(min(backbone_1) * 1000, 1),
                "backbone_gflops_per_s": round(flops / t_backbone / 1e9, 2),
                "matmul_peak_gflops_per_s": round(peak, 2),
                "flop_fraction_of_peak": round(flops / t_backbone / 1e9 / peak, 3),
                "backbone_gflops_per_image": round(flops / b / 1e9, 3),
                "channels_last": args.channels_last,
                "optimised": args.optimise,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
