"""Temporal smoothing: the One-Euro filter (Casiez et al. 2012), run forwards and then
backwards over the whole clip so that the smoothed motion does not lag behind the video.

Rotations are filtered as unit quaternions (signs made continuous first, renormalised after),
translations as they are. ``strength`` in [0, 1] sets the filter's minimum cut-off frequency:
0 leaves the motion unchanged, 0.5 is 1 Hz, 1 is 0.1 Hz (10^(1 - 2 strength) Hz), the same at
any frame rate (:func:`_alpha`).
"""

from __future__ import annotations

import math

import roma
import torch

# How much the cut-off rises with speed (Hz per unit/s of the filtered signal): fast moves are
# followed closely, slow ones smoothed hard. 1.0 was chosen on bench/video.py: at strength 0.5
# the smoothed joints jitter as much as the true motion's (0.3 smoothed below it, 3.0 kept twice it).
BETA = 1.0
DERIVATIVE_CUTOFF_HZ = 1.0


def min_cutoff_hz(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1], got {strength}")
    return 10.0 ** (1.0 - 2.0 * strength)


def _alpha(cutoff: torch.Tensor | float, fps: float) -> torch.Tensor | float:
    """The smoothing factor of a first-order low-pass at ``cutoff`` Hz sampled at ``fps``: the
    exact discretisation 1 - exp(-2π fc / fps), so that a cut-off means the same at any frame
    rate. (One-Euro's usual 1 / (1 + fps / (2π fc)) is its first-order approximation, good only
    far below the frame rate: at 10 fps it damped a 1 Hz swing to 0.51 of its amplitude where
    30 fps kept 0.76; exact, 0.70 and 0.82.)"""
    x = -2.0 * math.pi * cutoff / fps
    return 1.0 - (torch.exp(x) if isinstance(x, torch.Tensor) else math.exp(x))


def one_euro(signal: torch.Tensor, fps: float, min_cutoff: float, beta: float = BETA) -> torch.Tensor:
    """Causal One-Euro filter along the first axis: (T, ...) -> (T, ...)."""
    out = signal.clone()
    if signal.shape[0] < 2:
        return out
    speed = torch.zeros_like(signal[0])
    a_d = _alpha(DERIVATIVE_CUTOFF_HZ, fps)
    for t in range(1, signal.shape[0]):
        raw_speed = (signal[t] - out[t - 1]) * fps
        speed = speed + a_d * (raw_speed - speed)
        a = _alpha(min_cutoff + beta * speed.abs(), fps)
        out[t] = out[t - 1] + a * (signal[t] - out[t - 1])
    return out


def zero_phase(signal: torch.Tensor, fps: float, min_cutoff: float) -> torch.Tensor:
    """One-Euro forwards, then backwards over the result: (T, ...) -> (T, ...), no lag.

    The clip is first extended at both ends by up to a second of its point reflection
    (2 x[0] - x[k], as scipy's filtfilt does), so that a motion under way at an end carries on
    instead of being pulled towards a standstill."""
    pad = min(signal.shape[0] - 1, max(1, round(fps)))
    head = 2 * signal[:1] - signal[1 : pad + 1].flip(0)
    tail = 2 * signal[-1:] - signal[-pad - 1 : -1].flip(0)
    padded = torch.cat([head, signal, tail])
    forward = one_euro(padded, fps, min_cutoff)
    return one_euro(forward.flip(0), fps, min_cutoff).flip(0)[pad : pad + signal.shape[0]]


def continuous_quaternions(rotmats: torch.Tensor) -> torch.Tensor:
    """(T, J, 3, 3) -> (T, J, 4) unit quaternions, each on the side of its predecessor (q ~ -q)."""
    quats = roma.rotmat_to_unitquat(rotmats.double())
    for t in range(1, quats.shape[0]):
        flip = (quats[t] * quats[t - 1]).sum(-1, keepdim=True) < 0
        quats[t] = torch.where(flip, -quats[t], quats[t])
    return quats


def smooth_rotations(rotmats: torch.Tensor, fps: float, strength: float) -> torch.Tensor:
    """(T, J, 3, 3) -> (T, J, 3, 3) smoothed; strength 0 returns the input."""
    if strength == 0 or rotmats.shape[0] < 3:
        return rotmats.clone()
    quats = zero_phase(continuous_quaternions(rotmats), fps, min_cutoff_hz(strength))
    return roma.unitquat_to_rotmat(roma.quat_normalize(quats)).to(rotmats.dtype)


def smooth_positions(positions: torch.Tensor, fps: float, strength: float) -> torch.Tensor:
    """(T, ..., 3) -> same, smoothed; strength 0 returns the input."""
    if strength == 0 or positions.shape[0] < 3:
        return positions.clone()
    return zero_phase(positions.double(), fps, min_cutoff_hz(strength)).to(positions.dtype)
