"""``openhmr masks``: person masks for the silhouette losses."""

from __future__ import annotations

import argparse

from openhmr.errors import OpenHMRError


def add_parser(commands) -> None:
    masks = commands.add_parser(
        "masks",
        help="person masks for the silhouette loss",
        description="Give labelled sets person masks for training with loss_silhouette. A synthetic "
        "set (`openhmr synth` annotations.npz made before synth wrote masks) gets its part masks "
        "rendered beside its images from its labels (the whole body: an occluding box is not in the "
        "labels). A real set (an LSP folder[:train|test], a COCO keypoint .json, a SPIN .npz) gets "
        "MediaPipe's segmentation of each person's crop, judged and cached in WORK_DIR/masks, where "
        "training with the same data.work_dir finds them. Resumable.",
    )
    masks.add_argument("sets", nargs="+", metavar="SET", help="annotations .npz, LSP folder[:split] or COCO .json")
    masks.add_argument("--work-dir", default="runs/data", help="where real sets' masks go (training's data.work_dir; default runs/data)")
    masks.add_argument("--quiet", action="store_true", help="no progress bar")
    masks.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from openhmr.data.mask_cache import build_mask_cache
    from openhmr.data.synthetic_masks import add_synthetic_masks, is_synthetic_set

    for spec in args.sets:
        if is_synthetic_set(spec):
            written, present = add_synthetic_masks(spec, progress=not args.quiet)
            print(f"{spec}: {written} part masks rendered beside the images ({present} already there)")
        else:
            try:
                folder, people, kept = build_mask_cache(spec, args.work_dir, progress=not args.quiet)
            except FileNotFoundError as e:
                raise OpenHMRError(f"{spec}: {e}") from None
            print(f"{spec}: {kept} of {people} people got a MediaPipe mask, in {folder}")
    return 0
