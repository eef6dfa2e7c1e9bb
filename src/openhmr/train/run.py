"""``openhmr train``: data, network, Lightning trainer, checkpoints.

Outputs in ``out_dir``: ``config.json``; ``checkpoints/`` (resumable Lightning checkpoints every
``checkpoint_every`` steps and ``last.ckpt``); ``weights/step_NNNNNNN.safetensors`` alongside
them and ``model.safetensors`` at the end (network weights only, what ``openhmr predict`` and
``openhmr eval`` read); ``logs/`` (TensorBoard: losses per term, discriminator scores,
keypoint overlays when training on images).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from openhmr.errors import OpenHMRError
from openhmr.train.config import TrainConfig

log = logging.getLogger(__name__)


def prepare_data(config: TrainConfig) -> dict[str, Path | None]:
    """Paths of train / test annotations and the discriminator's pose bank."""
    d = config.data
    if d.train is None:
        from openhmr.data.prepare import prepare_synthetic
        from openhmr.data.synth import default_backgrounds

        paths = prepare_synthetic(d.poses, d.work_dir, d.num_train, d.num_test, seed=config.seed, res=d.res, progress=config.progress,
                                  look=d.synth_look, backgrounds=d.backgrounds or default_backgrounds(), photo_poses=d.photo_poses,
                                  photo_pose_share=d.photo_pose_share, renderer=d.renderer)
        return {
            "train": paths["train"],
            "test": paths["test"],
            "discriminator": Path(d.discriminator_poses) if d.discriminator_poses else paths["discriminator"],
            "mean_pose_bank": paths["train_bank"],
        }
    bank = d.discriminator_poses or d.poses
    if config.uses_discriminator and bank is None:
        raise OpenHMRError(f"Regime {config.regime} needs real poses for its discriminator: set data.discriminator_poses=BANK.npz.")
    return {
        "train": Path(d.train),
        "test": Path(d.test) if d.test else None,
        "discriminator": Path(bank) if bank else None,
        "mean_pose_bank": Path(bank) if bank else None,
    }


def build_training(config: TrainConfig, start_batch: int = 0):
    """(module, train loader, data paths) for ``config``. ``start_batch``: the batch a resumed
    run continues from (its draws then differ from the batches already seen)."""
    from openhmr.body import load_body_model
    from openhmr.data.formats import read_spin_npz
    from openhmr.data.mixing import MixedBatches, MocapStream
    from openhmr.mocap.pose_bank import PoseBank
    from openhmr.nets.hmr import build_hmr
    from openhmr.nets.theta import MeanParams
    from openhmr.train.features import labelled_subset
    from openhmr.train.module import HMRTraining

    torch.manual_seed(config.seed)
    paths = prepare_data(config)
    body = load_body_model(config.body_model)
    mean = MeanParams.default(body)
    if paths["mean_pose_bank"] is not None:
        bank = PoseBank.load(paths["mean_pose_bank"])
        if bank.body_model == body.name:
            mean = MeanParams.from_pose_bank(body, torch.from_numpy(bank.body_pose).float())
    hmr = build_hmr(body, config.backbone, config.encoder_weights, config.rotation, config.iterations, mean, config.keypoint_convention,
                    encoder_inputs=config.encoder_input_groups, feedback=config.feedback, dropout=config.dropout,
                    crop_margin=config.crop_margin, upright=config.upright)

    annotations = read_spin_npz(paths["train"], convention=config.keypoint_convention)
    if annotations.pose is not None and annotations.body_model != body.name:
        warnings.warn(
            f"{paths['train']} holds {annotations.body_model} parameters; training the {body.name} body uses its "
            "2D and 3D keypoints only.",
            stacklevel=2,
        )
        annotations.pose = None
    labelled = labelled_subset(len(annotations), config.fraction_3d, config.seed)
    main = _source_dataset(config, hmr, annotations, str(paths["train"]), labelled)
    sources = {"synthetic": (main, 1.0)}
    if config.data.real:
        from openhmr.data.sources import read_annotations

        real = [
            _source_dataset(config, hmr, read_annotations(spec.strip(), config.keypoint_convention), spec.strip())
            for spec in config.data.real.split(",") if spec.strip()
        ]
        share = config.data.real_share
        sources = {"synthetic": (main, 1.0 - share), "real": (torch.utils.data.ConcatDataset(real), share)}
    # Each process of a distributed run draws its own batches (rank 0 draws what a single
    # process would): the ranks then see different samples.
    batches = MixedBatches(sources, config.batch_size, len(hmr.keypoint_names), seed=config.seed, start_batch=start_batch,
                           rank=process_rank(config))
    loader = torch.utils.data.DataLoader(_Endless(batches), batch_size=None, num_workers=0)
    mocap = None
    if config.uses_discriminator:
        bank = PoseBank.load(paths["discriminator"])
        if bank.body_model != body.name:
            raise OpenHMRError(f"{paths['discriminator']} holds {bank.body_model} poses; the {body.name} body needs its own.")
        mocap = MocapStream(bank, config.batch_size * config.iterations, body.sample_shapes, seed=config.seed)
    return HMRTraining(config, hmr, mocap), loader, paths


class _Endless(torch.utils.data.IterableDataset):
    """Lightning reads batches from a DataLoader; this one hands over ready mixed batches."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return self.batches


def process_rank(config: TrainConfig) -> int:
    """This process's global rank in a distributed run, from the launcher's environment
    (torchrun / SLURM: RANK; Lightning's own launcher: NODE_RANK and LOCAL_RANK); 0 alone."""
    import os

    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    local, node = int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("NODE_RANK", 0))
    per_node = int(config.devices) if config.devices.isdigit() else 1
    return node * per_node + local


def augmentation_seed(seed: int, view: int) -> int:
    """The augmentation draws of cached view ``view`` for training seed ``seed``: seed 0 keeps
    the draws of its view alone (as its caches were made); other seeds draw afresh."""
    return view if seed == 0 else 1_000_003 * seed + view


def _source_dataset(config: TrainConfig, hmr, annotations, name: str, labelled=None) -> torch.utils.data.Dataset:
    """One labelled set as training samples: augmented crops (image training) or
    ``data.views`` cached trunk outputs per image (feature caching). ``labelled`` (N,) bool:
    which samples keep their 3D labels under the regime (None: the set has none to drop)."""
    from openhmr.data.dataset import CropDataset
    from openhmr.data.sources import cache_key, source_slug
    from openhmr.geometry.crop import STORED_MARGIN
    from openhmr.train.features import Without3D, build_feature_cache

    d = config.data

    masks = _masks_for(config, annotations, name)

    turns = _upright_turns(config, annotations, name) if config.upright else None

    def crops(augment: bool, seed: int) -> CropDataset:
        return CropDataset(annotations, res=d.res, augment=augment, seed=seed, mirror_pose=hmr.body.mirror_pose, masks=masks,
                           truncation=d.truncation if augment else 0.0, margin=config.crop_margin, turns=turns)

    if not config.caches_features:
        dataset = crops(d.augment, config.seed)
        return dataset if labelled is None else Without3D(dataset, labelled)
    views = []
    for view in range(d.views):
        # View 0 is the plain crop (no draw: shared by every run); the others are augmented,
        # each with draws of its own view and of the training seed.
        draws = augmentation_seed(config.seed, view)
        key = cache_key(name, config.backbone, config.encoder_weights, config.cached_blocks, d.res, view, 0,
                        *(["masks"] if masks else []), *([f"truncation{d.truncation}"] if view > 0 and d.truncation else []),
                        *([f"margin{config.crop_margin}"] if config.crop_margin != STORED_MARGIN else []),
                        *(["upright"] if config.upright else []),
                        *([f"draws{draws}"] if view > 0 and config.seed else []))  # seed 0 keeps its existing caches
        path = Path(d.work_dir) / "features" / f"{source_slug(name)}-v{view}-{key}.safetensors"
        cached = build_feature_cache(
            hmr.encoder, crops(view > 0, draws), config.cached_blocks, path,
            progress=config.progress, desc=f"caching {source_slug(name)} view {view + 1}/{d.views}",
        )
        views.append(cached if labelled is None else Without3D(cached, labelled))
    return views[0] if len(views) == 1 else torch.utils.data.ConcatDataset(views)


def _upright_turns(config: TrainConfig, annotations, name: str):
    """(N,) the upright turn of each person of a source, found once and kept in the work dir."""
    from openhmr.data.dataset import upright_turns
    from openhmr.data.sources import cache_key, source_slug
    from openhmr.io import atomic_path

    path = Path(config.data.work_dir) / "features" / f"{source_slug(name)}-turns-{cache_key(name, config.data.res, config.crop_margin)}.npy"
    if path.exists():
        return np.load(path)
    turns = upright_turns(annotations, config.data.res, config.crop_margin, progress=config.progress,
                          desc=f"upright turns {source_slug(name)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, turns)
    return turns


def _masks_for(config: TrainConfig, annotations, name: str):
    """What CropDataset's ``masks`` should be for this source: False (no silhouette loss),
    True (synthetic renders: masks beside the images) or the source's cached MediaPipe masks."""
    from openhmr.data.masks import mask_path_beside

    if config.loss_silhouette <= 0:
        return False
    if mask_path_beside(annotations.image_root / str(annotations.imgname[0])).exists():
        return True
    from openhmr.data.mask_cache import MaskCache

    return MaskCache.find(Path(config.data.work_dir), name, len(annotations))


def train(config: TrainConfig, resume: str | Path | None = None) -> Path:
    """Train; returns the path of the final ``model.safetensors``."""
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger

    from openhmr.io import atomic_path
    from openhmr.train.checkpoints import (
        AtomicCheckpointIO,
        remove_leftovers,
        resume_point,
    )

    out = Path(config.out_dir)
    per_batch = config.optimiser_steps_per_batch
    start_batch = 0
    if resume is not None:  # checked before anything is created or loaded
        resume, step = resume_point(resume)  # None: stopped before its first checkpoint
        start_batch = step // per_batch
    out.mkdir(parents=True, exist_ok=True)
    for path in remove_leftovers(out):
        log.warning("removed %s, left by an interrupted checkpoint write", path)
    module, loader, paths = build_training(config, start_batch)
    with atomic_path(out / "config.json") as tmp:
        tmp.write_text(json.dumps(config.to_dict(), indent=2))

    class SaveEverything(L.Callback):
        """Every ``checkpoint_every`` steps: a resumable Lightning checkpoint (and last.ckpt)
        and the network's safetensors; model.safetensors at the end. Named by batch step."""

        def _extra(self, trainer) -> dict:
            return {"step": trainer.global_step // per_batch, "config": config.to_dict(),
                    "train": str(paths["train"]), "discriminator": str(paths["discriminator"])}

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = trainer.global_step // per_batch
            if step % config.checkpoint_every == 0 or step == config.steps:
                trainer.save_checkpoint(out / "checkpoints" / f"step_{step:07d}.ckpt", weights_only=False)
                trainer.save_checkpoint(out / "checkpoints" / "last.ckpt", weights_only=False)
                if trainer.is_global_zero:
                    save_network(pl_module, out / "weights" / f"step_{step:07d}.safetensors", self._extra(trainer))

        def on_train_end(self, trainer, pl_module):
            if trainer.is_global_zero:
                save_network(pl_module, out / "model.safetensors", self._extra(trainer))

    quiet_lightning()
    devices = int(config.devices) if config.devices.isdigit() else config.devices
    trainer = L.Trainer(
        max_steps=config.steps * per_batch,
        accelerator=config.accelerator,
        devices=devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        logger=TensorBoardLogger(str(out), name="logs", version=""),
        callbacks=[SaveEverything()],
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        log_every_n_steps=min(10, config.steps),
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    # Checkpoints hold tensors and plain containers only: read them without unpickling code.
    trainer.fit(module, loader, ckpt_path=str(resume) if resume else None, weights_only=True)
    final = out / "model.safetensors"
    if not network_saved(module, final) and trainer.is_global_zero:
        # Lightning skips the end of a run resumed at its last step: the weights still belong there.
        save_network(module, final, SaveEverything()._extra(trainer))
    return final


def network_saved(module, path: Path) -> bool:
    """Both files of :func:`save_network` are at ``path``."""
    from openhmr.nets.weights_io import discriminator_path

    return path.exists() and (module.discriminator is None or discriminator_path(path).exists())


def save_network(module, path: Path, extra: dict) -> None:
    """The network's weights at ``path`` and, when the run has one, its discriminator beside
    them (fitting's realism prior). The discriminator goes first: weights at ``path`` mean the
    pair is complete."""
    from openhmr.nets.weights_io import (
        discriminator_path,
        save_discriminator,
        save_weights,
    )

    if module.discriminator is not None:
        save_discriminator(module.discriminator, discriminator_path(path))
    save_weights(module.hmr, path, extra)


def quiet_lightning() -> None:
    """Lightning's start-up banners and advice that does not apply here stay out of the way."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (".*LeafSpec.*", ".*smaller than the logging interval.*", ".*litlogger.*", ".*does not have many workers.*"):
        warnings.filterwarnings("ignore", message=pattern)
