"""Prediction speed on pre-decoded crops, against the bare backbone, in one run.

Usage: python bench/predict_speed.py [--checkpoint W.safetensors] [--rounds 10]

predict = encoder + IEF regressor + body model (mesh, joints, keypoints) + the full-image
camera, i.e. everything ``Model.predict`` does after the crop (detection and decoding are
left out), with the eager encoder ``predict`` uses, against each encoder variant (eager,
channels-last, traced + frozen) measured in the same run; the ratio is taken against the
fastest of them, so a slow variant cannot flatter it. The backbone's effective FLOP rate is its counted FLOPs (torch's FLOP counter) per
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

    from openhmr.geometry.crop import crop_matrix, warp_image

    image = data.astronaut()
    rng = np.random.default_rng(0)
    crops = [warp_image(image, crop_matrix(rng.uniform(200, 312, 2), rng.uniform(300, 500), 224), 224) for _ in range(count)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255


def encoder_variants(model, example: torch.Tensor) -> dict:
    """The same encoder three ways: eager, channels-last, traced + frozen (Model.optimise_for_cpu)."""
    import copy

    eager = model.hmr.encoder.eval()
    channels_last = copy.deepcopy(eager).to(memory_format=torch.channels_last)
    traced_model = copy.copy(model)
    traced_model.hmr = copy.deepcopy(model.hmr)
    traced_model.optimise_for_cpu()
    return {
        "eager": (eager, example),
        "channels_last": (channels_last, example.contiguous(memory_format=torch.channels_last)),
        "traced": (traced_model.hmr.encoder, example),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="weights (default: the shipped model)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)

    from openhmr.detect.mediapipe import Detection
    from openhmr.predict.crops import Crops
    from openhmr.predict.predictor import load_model

    model = load_model(args.checkpoint, detector=None)
    b = args.batch_size
    crops = photo_crops(b)
    flops = backbone_flops(model.hmr.encoder, crops)
    variants = encoder_variants(model, crops)
    people = Crops(crops, np.full((b, 2), 256.0), np.full(b, 400.0), [Detection((56.0, 56.0, 400.0, 400.0), 1.0)] * b, (512, 512))

    def predict(n: int):
        return lambda: model.people_from_crops(people[:n])

    def encoder_run(encoder, x, n: int):
        def run():
            with torch.no_grad():
                encoder(x[:n])

        return run

    # Interleaved rounds so that machine noise hits every variant alike; best of three.
    times = {name: [] for name in ["predict", *variants]}
    latency = {name: [] for name in ["predict", *variants]}
    for _ in range(3):
        times["predict"].append(timed(predict(b), args.rounds))
        latency["predict"].append(timed(predict(1), args.rounds))
        for name, (encoder, x) in variants.items():
            times[name].append(timed(encoder_run(encoder, x, b), args.rounds))
            latency[name].append(timed(encoder_run(encoder, x, 1), args.rounds))
    best = {name: min(t) for name, t in times.items()}
    fastest = min(variants, key=best.get)
    peak = matmul_peak_gflops(args.rounds)
    result = {f"{name}_imgs_per_s_b{b}": round(b / t, 2) for name, t in best.items()}
    result.update({f"{name}_latency_ms_b1": round(min(t) * 1000, 1) for name, t in latency.items()})
    result.update(
        {
            "fastest_encoder": fastest,
            # predict (eager encoder + regressor + body + camera) against the fastest bare encoder
            "ratio_predict_to_fastest_encoder": round(best[fastest] / best["predict"], 3),
            "fastest_encoder_gflops_per_s": round(flops / best[fastest] / 1e9, 2),
            "matmul_peak_gflops_per_s": round(peak, 2),
            "flop_fraction_of_peak": round(flops / best[fastest] / 1e9 / peak, 3),
            "backbone_gflops_per_image": round(flops / b / 1e9, 3),
            "threads": torch.get_num_threads(),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
