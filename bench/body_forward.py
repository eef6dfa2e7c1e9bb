"""Body-model forward speed on CPU, and our SMPL layer against smplx on the same file.

Usage: python bench/body_forward.py [--smpl PATH] [--rounds N]
Without --smpl it writes an SMPL-format file with SMPL's shapes (made-up values) and uses it
for both layers. Timings interleave the contenders round by round and report medians, so
that the ratio holds on a shared, noisy machine. Prints a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def median_ms(fn, rounds_out: list[float]):
    start = time.perf_counter()
    fn()
    rounds_out.append((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smpl", help="SMPL .npz/.pkl file (default: a generated SMPL-format file)")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import smplx
    from smplx.utils import Struct

    from openhmr.body import load_body_model
    from openhmr.body.smpl_file import load_smpl_arrays
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the SMPL-format test fixture
    from smpl_fixture import write_smpl_like_npz

    from openhmr.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    torch.manual_seed(0)
    smpl_path = Path(args.smpl) if args.smpl else write_smpl_like_npz(Path(tempfile.mkdtemp()) / "smpl_like.npz")
    ours = load_body_model(smpl_path)
    arrays = load_smpl_arrays(smpl_path)
    ref = smplx.SMPL(model_path=str(smpl_path), data_struct=Struct(**{k: v for k, v in arrays.items()}))
    anny = load_body_model("anny")

    b = 64
    go, bp, betas = torch.randn(b, 3) * 0.5, torch.randn(b, 23, 3) * 0.4, torch.randn(b, 10)
    up = ours.up_rotation
    go_model = matrix_to_axis_angle(up.T @ axis_angle_to_matrix(go) @ up)
    a_go, a_bp = torch.randn(b, 3) * 0.5, torch.randn(b, 30, 3) * 0.3
    a_shape = torch.rand(b, 6)

    with torch.no_grad():
        v_ours = ours(go, bp, betas)
        v_ref = ref(global_orient=go_model, body_pose=bp.flatten(1), betas=betas)
        max_diff = max(
            float((v_ours.vertices - v_ref.vertices @ up.T).abs().max()),
            float((v_ours.joints - v_ref.joints[:, :24] @ up.T).abs().max()),
        )

    def anny_fwdbwd():
        p = a_bp.clone().requires_grad_(True)
        anny(a_go, p, a_shape).vertices.square().sum().backward()

    contenders = {
        "smpl_fwd_ms_b64": lambda: ours(go, bp, betas),
        "smplx_fwd_ms_b64": lambda: ref(global_orient=go_model, body_pose=bp.flatten(1), betas=betas),
        "anny_fwd_ms_b1": lambda: anny(a_go[:1], a_bp[:1], a_shape[:1]),
        "anny_fwd_ms_b64": lambda: anny(a_go, a_bp, a_shape),
    }
    times: dict[str, list[float]] = {k: [] for k in [*contenders, "anny_fwdbwd_ms_b64"]}
    with torch.no_grad():
        for fn in contenders.values():  # warm-up
            fn()
    anny_fwdbwd()
    for _ in range(args.rounds):
        with torch.no_grad():
            for key, fn in contenders.items():
                median_ms(fn, times[key])
        median_ms(anny_fwdbwd, times["anny_fwdbwd_ms_b64"])

    result = {k: round(statistics.median(v), 2) for k, v in times.items()}
    ratios = [a / b for a, b in zip(times["smpl_fwd_ms_b64"], times["smplx_fwd_ms_b64"])]
    result["smpl_over_smplx"] = round(statistics.median(ratios), 3)
    result["max_abs_diff_m"] = float(f"{max_diff:.2e}")
    result["threads"] = torch.get_num_threads()
    order = ["anny_fwd_ms_b1", "anny_fwd_ms_b64", "anny_fwdbwd_ms_b64", "smpl_fwd_ms_b64",
             "smplx_fwd_ms_b64", "smpl_over_smplx", "max_abs_diff_m", "threads"]  # fmt: skip
    print(json.dumps({k: result[k] for k in order}))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
