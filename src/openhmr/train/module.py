"""The Lightning module: HMR's encoder + regressor against a discriminator, with manual
optimisation (two optimisers, the discriminator updated every step on unpaired mocap)."""

from __future__ import annotations

import lightning as L
import torch

from openhmr.data.mixing import MocapStream
from openhmr.nets.discriminator import Discriminator
from openhmr.nets.hmr import HMR
from openhmr.train.config import TrainConfig
from openhmr.train.losses import LossWeights, discriminator_loss, encoder_losses


class HMRTraining(L.LightningModule):
    """One step: encoder losses for the regime -> encoder update; then, unless the regime is
    2d-only, discriminator loss on (mocap poses, the step's predictions) -> discriminator update.

    Batches hold ``image (B, 3, H, W)`` or ``trunk`` (cached features) and the label fields of
    :mod:`openhmr.train.losses`; missing labels switch their terms off.
    """

    def __init__(self, config: TrainConfig, hmr: HMR, mocap: MocapStream | None):
        super().__init__()
        self.automatic_optimization = False
        self.config = config
        self.hmr = hmr
        body = hmr.body
        self.discriminator = Discriminator(body.num_body_joints, body.shape_dim) if config.uses_discriminator else None
        self.mocap = mocap
        self.weights = LossWeights(
            config.loss_keypoints2d, config.loss_keypoints3d, config.loss_params, config.loss_adversarial
        )
        self.silhouette = None
        if config.loss_silhouette > 0:
            from openhmr.silhouette.losses import MASK_RES
            from openhmr.silhouette.soft import SoftSilhouette

            self.silhouette = SoftSilhouette(body.faces, MASK_RES)
        self.frozen_blocks = config.cached_blocks if config.caches_features else None
        if config.caches_features:
            self._freeze_trunk()

    def _freeze_trunk(self) -> None:
        for p in self.hmr.encoder.trunk_parameters(self.frozen_blocks):
            p.requires_grad_(False)

    def configure_optimizers(self):
        c = self.config
        encoder = [p for p in self.hmr.encoder.parameters() if p.requires_grad]
        in_encoder = {id(p) for p in encoder}
        rest = [p for p in self.hmr.parameters() if p.requires_grad and id(p) not in in_encoder]
        groups = [{"params": rest}] + ([{"params": encoder, "lr": c.lr * c.encoder_lr_scale}] if encoder else [])
        encoder_opt = torch.optim.Adam(groups, lr=c.lr, weight_decay=c.weight_decay)
        optimisers = [encoder_opt]
        if self.discriminator is not None:
            optimisers.append(torch.optim.Adam(self.discriminator.parameters(), lr=c.disc_lr, weight_decay=c.weight_decay))
        if c.lr_schedule == "cosine":
            return optimisers, [torch.optim.lr_scheduler.CosineAnnealingLR(encoder_opt, T_max=c.steps)]
        return optimisers

    def forward_batch(self, batch: dict[str, torch.Tensor]):
        decode = self.config.supervise  # "final" or "all": the iterations the losses need
        vertices = self.silhouette is not None  # only the silhouette loss reads the mesh
        if "trunk" in batch:
            return self.hmr(None, decode=decode, trunk=batch["trunk"], frozen_blocks=self.frozen_blocks, vertices=vertices)
        return self.hmr(batch["image"], decode=decode, vertices=vertices)

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int):
        optimisers = self.optimizers()
        encoder_opt, disc_opt = (optimisers, None) if self.discriminator is None else optimisers
        predictions = self.forward_batch(batch)
        # The discriminator is a fixed judge during the encoder's step: no gradients for it.
        self._discriminator_trainable(False)
        terms = encoder_losses(
            predictions, batch, self.hmr.keypoint_mask, self.hmr.hip_indices, self.weights, self.discriminator,
            self.config.supervise,
        )
        if self.silhouette is not None and "mask" in batch:
            from openhmr.silhouette.losses import silhouette_loss

            final = predictions[-1]
            terms["silhouette"] = silhouette_loss(self.silhouette, final.vertices, final.camera, batch["mask"], batch["mask_weight"])
            terms["total"] = terms["total"] + self.config.loss_silhouette * terms["silhouette"]
        encoder_opt.zero_grad(set_to_none=True)
        self.manual_backward(terms["total"])
        encoder_opt.step()
        self._discriminator_trainable(True)
        schedulers = self.lr_schedulers()
        if schedulers is not None:  # manual optimisation steps its schedulers itself
            schedulers.step()
        logs = {f"loss/{k}": v.detach() for k, v in terms.items()}
        if self.discriminator is not None:
            # A fresh generator per step keeps the mocap draws reproducible across resumes.
            # ... and of its own process in a distributed run (rank 0: what one process draws).
            real_rotmats, real_shape = self.mocap.sample(self.config.seed * 1_000_003 + self.global_step + self.global_rank * 7_919_000_009)
            real_rotmats, real_shape = real_rotmats.to(self.device), real_shape.to(self.device)
            fake_rotmats = torch.cat([p.body_rotmats.detach() for p in predictions])
            fake_shape = torch.cat([p.shape.detach() for p in predictions])
            real_scores = self.discriminator(real_rotmats, real_shape)
            fake_scores = self.discriminator(fake_rotmats, fake_shape)
            loss_d = discriminator_loss(real_scores, fake_scores)
            disc_opt.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            disc_opt.step()
            logs.update(
                {"loss/discriminator": loss_d.detach(), "disc/real_score": real_scores.mean().detach(),
                 "disc/fake_score": fake_scores.mean().detach()}
            )
        self.log_dict(logs, prog_bar=False, batch_size=len(predictions[-1].theta))
        self.log("kp2d", terms["keypoints2d"].detach(), prog_bar=True, batch_size=len(predictions[-1].theta))
        # Lightning counts optimiser steps (two per batch with a discriminator): use batches.
        if (self.global_step // self.config.optimiser_steps_per_batch) % self.config.checkpoint_every == 0:
            self._log_overlay(batch, predictions[-1])
        return terms["total"].detach()

    def _discriminator_trainable(self, trainable: bool) -> None:
        if self.discriminator is not None:
            for p in self.discriminator.parameters():
                p.requires_grad_(trainable)

    def _log_overlay(self, batch, prediction) -> None:
        """Predicted (red) and labelled (green) keypoints on the first crop, for TensorBoard."""
        if "image" not in batch or not hasattr(self.logger, "experiment"):
            return
        image = batch["image"][0].detach().cpu().clone()
        res = image.shape[-1]
        for points, colour in ((batch["keypoints2d"][0, :, :2], (0.0, 1.0, 0.0)), (prediction.keypoints2d[0], (1.0, 0.0, 0.0))):
            pixels = ((points.detach().cpu() + 1) * res / 2).round().long().clamp(1, res - 2)
            for x, y in pixels.tolist():
                image[:, y - 1 : y + 2, x - 1 : x + 2] = torch.tensor(colour)[:, None, None]
        experiment = self.logger.experiment
        if hasattr(experiment, "add_image"):  # TensorBoard; other loggers may not take images
            experiment.add_image("overlay", image, self.global_step)
