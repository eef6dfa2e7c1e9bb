"""The network's estimate, refined on 2D targets: ``fit`` (optimise the body) or ``eft``
(fine-tune the network on the example). What ``predict --refine``, ``fit-labels`` and the
benchmarks call."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from openhmr.fit.eft import eft
from openhmr.fit.fitter import FitResult, fit
from openhmr.fit.objective import BodyParams, FitSettings, Objective
from openhmr.fit.pose_prior import PosePrior
from openhmr.fit.targets import FullImageCamera, Targets
from openhmr.nets.flip import final_answer
from openhmr.nets.hmr import HMR
from openhmr.nets.upright import turned_back
from openhmr.shipped import shipped_pose_prior

log = logging.getLogger(__name__)
MODES = ("fit", "eft")


@dataclasses.dataclass
class Priors:
    """What the fit's prior terms need: the checkpoint's discriminator and a pose prior (either
    may be None: its terms are then off)."""

    discriminator: torch.nn.Module | None = None
    pose_prior: PosePrior | None = None

    @classmethod
    def for_checkpoint(cls, checkpoint: str | Path, body, pose_prior: str | Path | None = None) -> Priors:
        """The discriminator saved beside ``checkpoint`` (when training had one) and the pose
        prior at ``pose_prior`` (default: the one shipped for the body, when there is one)."""
        from openhmr.nets.weights_io import discriminator_path, load_discriminator

        disc_file = discriminator_path(checkpoint)
        discriminator = load_discriminator(disc_file, body) if disc_file.is_file() else None
        if discriminator is None:
            log.warning("No discriminator beside %s: fits are not checked for realism.", checkpoint)
        prior_file = Path(pose_prior) if pose_prior else shipped_pose_prior(body.name)
        prior = None
        if pose_prior or prior_file.is_file():  # a prior asked for must load; the shipped one may not exist
            prior = PosePrior.load(prior_file)
            prior.check_body(body)
        return cls(discriminator, prior)


class Refiner:
    """``refiner(crops, targets)`` -> the :class:`FitResult` of B people (``estimate`` gives the
    network's own values)."""

    def __init__(self, hmr: HMR, mode: str = "fit", priors: Priors | None = None, settings: FitSettings | None = None,
                 eft_steps: int = 20, eft_lr: float = 1e-4):
        if mode not in MODES:
            raise ValueError(f"refine mode must be one of {MODES}, got {mode!r}.")
        self.hmr, self.mode = hmr, mode
        self.priors = priors or Priors()
        self.settings = settings or FitSettings()
        self.eft_steps, self.eft_lr = eft_steps, eft_lr
        if self.priors.discriminator is not None:
            self.priors.discriminator.to(next(hmr.parameters()).device)

    def objective(self, start: BodyParams, targets: Targets, full_image: FullImageCamera | None) -> Objective:
        p = self.priors
        return Objective(self.hmr.body, targets, start, self.settings, p.discriminator, p.pose_prior, full_image)

    @torch.no_grad()
    def estimate(self, crops: torch.Tensor, flip: bool = False, angles: torch.Tensor | None = None) -> BodyParams:
        """The network's answer on ``crops``; ``flip``: averaged with the mirrored crops' (:mod:`openhmr.nets.flip`);
        ``angles`` (B,): the degrees ``crops`` were turned (an upright network's crops), the
        answer turned back into the unturned crops' frame (:mod:`openhmr.nets.upright`)."""
        out = final_answer(self.hmr, crops, flip) if flip else self.hmr(crops, decode="none")[-1]
        if angles is None:
            return BodyParams(out.camera, out.rotmats, out.shape)
        back = turned_back({"camera": out.camera, "rotmats": out.rotmats}, angles.to(crops.device))
        return BodyParams(back["camera"], back["rotmats"], out.shape)

    def __call__(self, crops: torch.Tensor, targets: Targets, full_image: FullImageCamera | None = None,
                 flip: bool = False, start: BodyParams | None = None) -> FitResult:  # fmt: skip
        """crops (B, 3, 224, 224) in [0, 1]; targets for the same B people; ``flip``: ``fit``
        starts from the flip-averaged answer (``eft`` tunes the network on the plain crop);
        ``start``: ``fit`` starts from these values instead of the network's answer on ``crops``
        (an upright network's answer on turned crops, turned back: :mod:`openhmr.nets.upright`)."""
        targets = targets.to(crops.device)
        full_image = None if full_image is None else full_image.to(crops.device)
        if self.mode == "fit":
            start = self.estimate(crops, flip) if start is None else start.to(crops.device)
            return fit(self.objective(start, targets, full_image))
        results = [
            eft(self.hmr, crops[i : i + 1], lambda start, i=i: self.objective(start, _one(targets, i), _one(full_image, i)),
                self.eft_steps, self.eft_lr)
            for i in range(len(crops))
        ]
        return _concatenate(results)


def _one(item, i: int):
    """Person ``i`` of a batched dataclass of tensors (or None)."""
    if item is None:
        return None
    return dataclasses.replace(item, **{
        f.name: getattr(item, f.name)[i : i + 1] for f in dataclasses.fields(item) if isinstance(getattr(item, f.name), torch.Tensor)
    })


def _concatenate(results: list[FitResult]) -> FitResult:
    def cat(values):
        if values[0] is None:
            return None
        if isinstance(values[0], BodyParams):
            return BodyParams(*(torch.cat([getattr(v, f) for v in values]) for f in ("camera", "rotmats", "shape")))
        return torch.cat(values)

    return FitResult(*(cat([getattr(r, f.name) for r in results]) for f in dataclasses.fields(FitResult)))
