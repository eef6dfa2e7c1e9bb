"""Does the synthetic set's look matter? Two trainings identical but for the synthetic images.

    python bench/synth_realism.py [--config configs/blazepose_full.toml] [--steps 2000] [--out-dir runs/synth_realism] [KEY=VALUE ...]

Both runs take the recipe in ``--config`` (real photos with 2D labels, synthetic renders with
3D labels, the mocap discriminator), the same seed, steps, image count and pose split; one
renders its synthetic set in the ``plain`` look, the other in the ``photo`` look with the
backdrops in ``--backgrounds`` (and, with ``--photo-poses``, poses from photos). Each model is scored by ``bench/real_photos.py`` (network
alone, labelled box given) on LSP test, coco-mini val and the synthetic test set of its own
look; ``synth_pa_mpjpe_cross`` is the plain model on photo-look renders;
``lsp_test_unusual_pck05_*`` on the LSP test people whose torso leans more than 45° from upright. A run already
finished is not trained again, an interrupted one resumes from its last checkpoint. Prints
one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOOKS = ("plain", "photo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "blazepose_full.toml"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--num-train", type=int, default=6000)
    parser.add_argument("--num-test", type=int, default=600)
    parser.add_argument("--backgrounds", default=str(ROOT.parent / "shared" / "data" / "backgrounds"))
    parser.add_argument("--photo-poses", help="a bank of poses from photos (`openhmr mocap --fits`) for the new set only: "
                                              "it poses data.photo_pose_share of its images and joins its discriminator's bank")
    parser.add_argument("--work-dir", default="runs/data", help="where both synthetic sets and the feature caches live")
    parser.add_argument("--out-dir", default="runs/synth_realism")
    parser.add_argument("--limit", type=int, help="score only the first N people of each set (quick checks)")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("overrides", nargs="*", help="more key=value settings for both trainings (e.g. data.poses=...)")
    args = parser.parse_args()

    out_dir = Path(args.out_dir)
    common = [f"steps={args.steps}", f"data.num_train={args.num_train}", f"data.num_test={args.num_test}",
              f"data.work_dir={args.work_dir}", f"data.backgrounds={args.backgrounds}", *args.overrides]
    models = {}
    for look in LOOKS:
        run = out_dir / look
        models[look] = run / "model.safetensors"
        if models[look].exists():
            continue
        command = [sys.executable, "-m", "openhmr", "train", "--config", args.config, *common,
                   f"data.synth_look={look}", f"out_dir={run}"]
        if look == "photo" and args.photo_poses:
            command.append(f"data.photo_poses={args.photo_poses}")
        if (run / "checkpoints").is_dir():
            command += ["--resume", str(run)]
        subprocess.run(command, check=True)

    suffix = {"plain": "", "photo": "-photo"}
    test = {look: Path(args.work_dir) / f"test{suffix[look]}" / "annotations.npz" for look in LOOKS}
    scores = {look: _score(models[look], test[look], args.limit) for look in LOOKS}
    cross = _score(models["plain"], test["photo"], args.limit, synthetic_only=True)
    result = {"steps": args.steps, "num_train": args.num_train, "photo_poses": Path(args.photo_poses).name if args.photo_poses else None}
    for look, name in (("plain", "old"), ("photo", "new")):
        for key in ("lsp_test_pck05", "lsp_test_pck10", "coco_val_pck05", "coco_val_pck10", "synth_pa_mpjpe", "synth_mpjpe",
                    "lsp_test_facing", "lsp_test_unusual_pck05", "lsp_test_unusual_pck10"):
            result[f"{key}_{name}"] = scores[look][key]
    result["synth_pa_mpjpe_cross"] = cross["synth_pa_mpjpe"]
    if args.out:
        from openhmr.io import write_json

        write_json(args.out, result)
    print(json.dumps(result))


def _score(model: Path, synth_test: Path, limit: int | None, synthetic_only: bool = False) -> dict:
    """bench/real_photos.py's JSON for ``model``, its synthetic set ``synth_test``."""
    command = [sys.executable, str(ROOT / "bench" / "real_photos.py"), "--checkpoint", str(model), "--synth-test", str(synth_test)]
    if limit:
        command += ["--limit", str(limit)]
    if synthetic_only:
        command += ["--skip-real"]
    lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(lines[-1])


if __name__ == "__main__":
    main()
