"""Video -> motion: speed end to end and jitter before / after smoothing, on a synthetic clip
whose true motion is known.

    python bench/video.py [--bvh ../shared/data/cmu-mocap/bvh/131_01.bvh] [--frames 90]
                          [--clip-step 4] [--work-dir /tmp/openhmr-video-bench] [--strip docs/video_strip.jpg]

The clip: every ``clip-step``-th frame of one CMU clip (120 fps -> 30 fps at step 4, 10 fps at
step 12), rendered by ``openhmr synth --clip`` in one scene at 256², written as an MPEG-4 video
at the rate it was sampled at (the BVH's frame rate / clip-step). Then
``predict --bvh``'s steps, timed: every frame estimated (the person followed by their landmarks'
regions, MediaPipe's video mode rebuilt in PyTorch; and, for comparison, MediaPipe Pose's box
on every frame: ``*_detector_every_frame``), smoothed, written as BVH + overlay video + JSON. Jitter is the mean magnitude of the joints' second
difference (mm / frame²) of the 31 rig joints relative to the hips, for the truth, the raw
estimate and the smoothed ones; MPJPE (mm, same joints, hips aligned) shows what smoothing
costs in accuracy. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def jitter_mm(joints: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over frames and joints, (T, J, 3) metres -> mm / frame²."""
    acc = joints[2:] - 2 * joints[1:-1] + joints[:-2]
    return float(np.linalg.norm(acc, axis=-1).mean() * 1000)


def root_relative(joints: np.ndarray) -> np.ndarray:
    return joints - joints[:, :1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bvh", default=str(ROOT.parent / "shared/data/cmu-mocap/bvh/131_01.bvh"))
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--clip-step", type=int, default=4)
    parser.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "openhmr-video-bench"))
    parser.add_argument("--strengths", default="0.25,0.5,0.75")
    parser.add_argument("--strip", help="also save 6 frames, the clip above its overlay video, as this image")
    args = parser.parse_args()

    from openhmr.body import load_body_model
    from openhmr.data.synth import generate
    from openhmr.mocap.asf_amc import read_bvh
    from openhmr.mocap.cmu_bank import build_pose_bank
    from openhmr.motion.video import estimate, pose_frames, smoothed, video_to_motion
    from openhmr.predict.predictor import load_model

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    body = load_body_model("anny")
    bank_path = work / "bank.npz"
    if not bank_path.exists():
        bank, _ = build_pose_bank([Path(args.bvh)], body, 0.0, None)  # every frame kept
        bank.save(bank_path)
    clip_dir = work / f"clip_{args.frames}_{args.clip_step}"
    fps = read_bvh(args.bvh).fps / args.clip_step  # the clip plays at the rate it was sampled at
    annotations = generate(bank_path, args.frames, clip_dir, res=256, progress=False, clip="0", clip_step=args.clip_step, fps=fps,
                           look="plain")  # the look of the figures recorded in the README
    truth = np.load(annotations)["joints"]
    video = clip_dir / "clip.mp4"

    model = load_model()
    model.detect(np.zeros((64, 64, 3), np.uint8))  # MediaPipe loaded outside the timings
    start = time.perf_counter()
    raw, _, _ = estimate(model, video, progress=False)
    estimate_s = time.perf_counter() - start
    start = time.perf_counter()
    per_frame, _, _ = estimate(model, video, progress=False, tracking=False)  # the detector on every frame
    per_frame_s = time.perf_counter() - start
    start = time.perf_counter()
    video_to_motion(model, video, work / "out", "clip", 0.5, progress=False)
    total_s = time.perf_counter() - start

    result = {"frames": args.frames, "fps": raw.fps, "found": int(raw.found.sum()),
              "found_detector_every_frame": int(per_frame.found.sum()),
              "estimate_frames_per_s": round(args.frames / estimate_s, 2),
              "estimate_frames_per_s_detector_every_frame": round(args.frames / per_frame_s, 2),
              "end_to_end_frames_per_s": round(args.frames / total_s, 2),
              "jitter_truth_mm": round(jitter_mm(root_relative(truth)), 3)}
    for label, strength in [("raw", 0.0)] + [(f"s{s}", float(s)) for s in args.strengths.split(",")]:
        _, joints = pose_frames(body, smoothed(raw, strength))
        joints = root_relative(joints.numpy())
        result[f"jitter_{label}_mm"] = round(jitter_mm(joints), 3)
        result[f"mpjpe_{label}_mm"] = round(float(np.linalg.norm(joints - root_relative(truth), axis=-1).mean() * 1000), 2)
    _, joints = pose_frames(body, per_frame)
    joints = root_relative(joints.numpy())
    result["jitter_raw_detector_every_frame_mm"] = round(jitter_mm(joints), 3)
    result["mpjpe_raw_detector_every_frame_mm"] = round(float(np.linalg.norm(joints - root_relative(truth), axis=-1).mean() * 1000), 2)
    result["jitter_smoothed_over_truth"] = round(result["jitter_s0.5_mm"] / result["jitter_truth_mm"], 3)
    result["jitter_raw_over_truth"] = round(result["jitter_raw_mm"] / result["jitter_truth_mm"], 3)
    if args.strip:
        save_strip(video, work / "out" / "clip_overlay.webm", Path(args.strip))
    print(json.dumps(result))


def save_strip(video: Path, overlay: Path, path: Path, count: int = 6) -> None:
    """Evenly spaced frames of ``video`` (top) and ``overlay`` (bottom) in one image."""
    from PIL import Image

    from openhmr.predict.inputs import video_frames

    rows = []
    for source in (video, overlay):
        frames = [image for _, image in video_frames(source, 1)]
        picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
        rows.append(np.concatenate([frames[i] for i in picks], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, quality=88)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
