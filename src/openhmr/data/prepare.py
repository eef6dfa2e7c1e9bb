"""From one pose bank to a ready synthetic experiment: the bank is split by clip into train,
test and discriminator banks (so no clip is seen in two roles), and images are rendered from
the train and test banks. Every step is skipped when its output already exists, so an
interrupted preparation resumes."""

from __future__ import annotations

from pathlib import Path

from openhmr.data.mixing import split_clips
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import CROP_RES
from openhmr.mocap.pose_bank import PoseBank

SPLIT = {"train": 0.7, "test": 0.15, "discriminator": 0.15}


def prepare_synthetic(
    poses: str | Path, out: str | Path, num_train: int, num_test: int, seed: int = 0, res: int = CROP_RES,
    progress: bool = True, look: str = "photo", backgrounds: str | Path | None = None,
    photo_poses: str | Path | None = None, photo_pose_share: float = 0.3, renderer: str = "moderngl",
) -> dict[str, Path]:
    """Writes ``out/banks/{train,test,discriminator}.npz`` and ``out/{train,test}/annotations.npz``
    (``out/{train,test}-photo/`` in the ``photo`` look, so both looks share a bank split);
    returns their paths under the keys ``train``, ``test``, ``discriminator``, ``train_bank``,
    ``test_bank``. Every seed but 0 gets its own experiment in ``out/seed<N>/`` (its own clip
    split and renders), so that runs of different seeds share no random draw. ``look``,
    ``backgrounds`` and ``renderer``: see :func:`openhmr.data.synth.generate`. ``photo_poses`` (a bank of poses
    from photos) poses ``photo_pose_share`` of the training images (rendered into
    ``train-<look>+<bank name>-<share>``) and joins the discriminator's bank
    (``banks/discriminator+<bank name>.npz``); the test set stays mocap only."""
    from openhmr.data.synth import generate

    out = Path(out) if seed == 0 else Path(out) / f"seed{seed}"
    banks = {name: out / "banks" / f"{name}.npz" for name in SPLIT}
    if not all(path.exists() for path in banks.values()):
        bank = PoseBank.load(poses)
        if len(bank.clip_names) < len(SPLIT):
            raise OpenHMRError(
                f"{poses} holds {len(bank.clip_names)} clip(s); a train/test/discriminator split by clip needs at least 3."
            )
        (out / "banks").mkdir(parents=True, exist_ok=True)
        for name, part in split_clips(bank, SPLIT, seed).items():
            part.save(banks[name])
    paths = {"discriminator": banks["discriminator"], "train_bank": banks["train"], "test_bank": banks["test"]}
    suffix = "" if look == "plain" else f"-{look}"
    extra = {"train": photo_poses if photo_poses and photo_pose_share > 0 else None, "test": None}
    if extra["train"]:
        name = Path(photo_poses).stem
        paths["discriminator"] = out / "banks" / f"discriminator+{name}.npz"
        if not paths["discriminator"].exists():
            PoseBank.concatenate([PoseBank.load(banks["discriminator"]), PoseBank.load(photo_poses)]).save(paths["discriminator"])
    for name, num, offset in (("train", num_train, 0), ("test", num_test, 1)):
        folder = name + suffix + (f"+{Path(extra[name]).stem}-{photo_pose_share:g}" if extra[name] else "")
        annotations = out / folder / "annotations.npz"
        if not annotations.exists() or _count(annotations) != num:
            generate(banks[name], num, out / folder, seed=seed * 2 + offset, res=res, progress=progress, look=look,
                     backgrounds=backgrounds, extra_poses=extra[name], extra_share=photo_pose_share, renderer=renderer)
        paths[name] = annotations
    return paths


def _count(annotations: Path) -> int:
    import numpy as np

    with np.load(annotations, allow_pickle=False) as f:
        return len(f["imgname"])
