"""Exemplar fine-tuning (EFT, Joo et al. 2021): fit the network itself to one person.

The regressor and the encoder's last block are fine-tuned on the one crop for a few steps
against the fitting objective (batch norm and dropout frozen: the network stays in eval mode),
the result is kept, and the weights are restored before the next person. The network's own
weights act as the pose prior, which is why EFT's fits stay plausible.
"""

from __future__ import annotations

import contextlib

import torch

from openhmr.fit.fitter import FitResult, accept
from openhmr.fit.objective import BodyParams, Objective
from openhmr.nets.hmr import HMR


def _params(prediction) -> BodyParams:
    return BodyParams(prediction.camera, prediction.rotmats, prediction.shape)


def tuned_parameters(hmr: HMR) -> tuple[list[torch.nn.Parameter], int | None]:
    """What EFT moves (regressor, and the encoder after its frozen trunk) and where the trunk ends."""
    blocks = hmr.encoder.num_blocks
    frozen = None if blocks is None else blocks - 1
    trunk = {id(p) for p in hmr.encoder.trunk_parameters(frozen)}
    encoder_rest = [p for p in hmr.encoder.parameters() if id(p) not in trunk]
    return encoder_rest + list(hmr.regressor.parameters()), frozen


@contextlib.contextmanager
def restored(hmr: HMR, parameters: list[torch.nn.Parameter]):
    """Train only ``parameters`` inside the block; every weight and flag as before afterwards."""
    saved = [p.detach().clone() for p in parameters]
    flags = {p: p.requires_grad for p in hmr.parameters()}
    was_training = hmr.training
    for p in hmr.parameters():
        p.requires_grad_(False)
    for p in parameters:
        p.requires_grad_(True)
    hmr.eval()
    try:
        yield
    finally:
        with torch.no_grad():
            for p, value in zip(parameters, saved):
                p.copy_(value)
        for p, flag in flags.items():
            p.requires_grad_(flag)
        hmr.train(was_training)


def eft(hmr: HMR, crop: torch.Tensor, make_objective, steps: int = 20, lr: float = 1e-4) -> FitResult:
    """Fine-tune on one crop (1, 3, H, W). ``make_objective(start: BodyParams) -> Objective``
    builds the cost around the network's first estimate. Returns the :class:`FitResult`."""
    parameters, frozen = tuned_parameters(hmr)
    with restored(hmr, parameters):
        with torch.no_grad():
            trunk = hmr.encoder.trunk(crop, frozen)
            start = _params(hmr.decode_theta(hmr.regressor(hmr.encoder.head(trunk, frozen))[-1], body=False))
        objective: Objective = make_objective(start)
        opt = torch.optim.Adam(parameters, lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad()
                theta = hmr.regressor(hmr.encoder.head(trunk, frozen))[-1]
                objective(_params(hmr.decode_theta(theta, body=False))).sum().backward()
                opt.step()
        with torch.no_grad():
            fitted = _params(hmr.decode_theta(hmr.regressor(hmr.encoder.head(trunk, frozen))[-1], body=False))
    return accept(objective, fitted)
