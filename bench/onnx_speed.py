"""The network (crops -> θ) in PyTorch against the exported ONNX file in onnxruntime, and
``predict`` with each runtime, on the same crops in one run.

    python bench/onnx_speed.py [--checkpoint W] [--rounds 20] [--threads 1]

Median milliseconds per crop at batch 1 and 8 (crops of the bundled photos), the ratio
torch ÷ onnx, the largest vertex difference between the runtimes (mm), and
``predict_ms_torch`` / ``predict_ms_onnx``: ``Model.predict`` on the astronaut with her box
given (crop, network, body, camera). The export itself runs first (cached). Prints one JSON
line last.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def median_ms(fn, rounds: int) -> float:
    """Milliseconds: the benches' one timer (median after two warm-up calls)."""
    from predict_speed import timed

    return 1000 * timed(fn, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="weights .safetensors (default: the shipped model)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from openhmr.detect.mediapipe import Detection
    from openhmr.predict.images import load_image
    from openhmr.predict.onnx import FinalTheta, OnnxNetwork, cached_export
    from openhmr.predict.predictor import load_model

    model = load_model(args.checkpoint, detector=None)
    folder = cached_export(model)
    net = OnnxNetwork(folder, args.threads)
    image = load_image(ROOT / "examples" / "astronaut.jpg")
    box = [Detection((120.0, 40.0, 260.0, 420.0), 1.0)]
    crop = model.crops(image, box).images
    result: dict = {"threads": args.threads, "rounds": args.rounds}
    hmr = model.hmr
    theta_net = FinalTheta(hmr)  # what the ONNX file holds, in PyTorch

    def torch_theta(crops):
        with torch.no_grad():
            return theta_net(crops)[0]

    for batch in (1, 8):
        crops = crop.expand(batch, -1, -1, -1).contiguous() + torch.rand(batch, 1, 1, 1) * 0.01
        t_torch = median_ms(lambda c=crops: torch_theta(c), args.rounds) / batch
        t_onnx = median_ms(lambda c=crops: net(c), args.rounds) / batch
        result[f"torch_ms_per_crop_b{batch}"] = round(t_torch, 2)
        result[f"onnx_ms_per_crop_b{batch}"] = round(t_onnx, 2)
        result[f"torch_over_onnx_b{batch}"] = round(t_torch / t_onnx, 2)
    with torch.no_grad():
        diff = (hmr.decode_theta(net(crop)).vertices - hmr.decode_theta(torch_theta(crop)).vertices).abs().max()
    result["vertices_max_diff_mm"] = round(float(diff) * 1000, 4)
    result["predict_ms_torch"] = round(median_ms(lambda: model.predict(image, box), args.rounds), 1)
    model.use_onnx(folder, args.threads)
    result["predict_ms_onnx"] = round(median_ms(lambda: model.predict(image, box), args.rounds), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
