"""L-BFGS over many independent problems at once (one per person).

``torch.optim.LBFGS`` treats a batch as one problem: one curvature history, one line search and
one stopping test for the summed cost, so a person's fit depended on who else was in the batch.
Here every person keeps their own history, step length and stopping test; only the evaluation
is shared (one batched call of the cost and its gradient per trial step, which on a CPU costs
little more than one person's). A person's result is therefore the same alone as in any batch,
up to float rounding.

Per iteration and person: the two-loop recursion gives a direction from the last ``history``
steps (steepest descent on the first iteration or when the direction does not descend); a
backtracking line search then halves the step until the person's own cost satisfies Armijo's
condition (a failed search along the history's direction is retried along the gradient).
A person stops when a step changes their cost or parameters by less than
``tolerance``, their gradient vanishes, or the line search finds no decrease.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ARMIJO = 1e-4  # sufficient decrease: f(x + t d) <= f(x) + ARMIJO t gᵀd
MAX_HALVINGS = 12
GRADIENT_TOLERANCE = 1e-7  # torch.optim.LBFGS's default


def value_and_grad(cost: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cost: (B, P) -> (B,), each person's cost depending on their own row only. Returns the
    costs (B,) and each person's gradient (B, P)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        values = cost(x)
        (grad,) = torch.autograd.grad(values.sum(), x)
    return values.detach(), grad


def _direction(grad: torch.Tensor, steps: torch.Tensor, changes: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """The two-loop recursion, batched. grad (B, P); steps, changes (B, M, P) oldest first, with
    rho (B, M) = 1 / (yᵀs), 0 where a slot is empty (an empty slot then has no effect).
    Returns -H grad (B, P)."""
    q = grad.clone()
    alpha = torch.zeros_like(rho)
    for i in range(rho.shape[1] - 1, -1, -1):
        alpha[:, i] = rho[:, i] * (steps[:, i] * q).sum(1)
        q -= alpha[:, i, None] * changes[:, i]
    # Initial inverse Hessian: sᵀy / yᵀy of the newest filled slot (1 before any).
    newest = changes[:, -1]
    yy = (newest * newest).sum(1)
    gamma = torch.where(rho[:, -1] > 0, 1 / (rho[:, -1] * yy).clamp(min=1e-30), torch.ones_like(yy))
    r = q * gamma[:, None]
    for i in range(rho.shape[1]):
        beta = rho[:, i] * (changes[:, i] * r).sum(1)
        r += steps[:, i] * (alpha[:, i] - beta)[:, None]
    return -r


def minimise_each(cost: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, iterations: int, history: int = 10,
                  tolerance: float = 1e-9) -> torch.Tensor:  # fmt: skip
    """Minimise every person's cost from x (B, P); returns the minimisers (B, P). ``cost``
    maps (B, P) to (B,) with row b depending on x[b] only."""
    x = x.detach().clone()
    batch, size = x.shape
    steps = x.new_zeros(batch, history, size)
    changes = x.new_zeros(batch, history, size)
    rho = x.new_zeros(batch, history)
    value, grad = value_and_grad(cost, x)
    active = grad.abs().amax(1) > GRADIENT_TOLERANCE
    for iteration in range(iterations):
        if not active.any():
            break
        direction = _direction(grad, steps, changes, rho)
        slope = (grad * direction).sum(1)
        uphill = slope >= 0  # a stale history: start again from steepest descent
        if uphill.any():
            direction = torch.where(uphill[:, None], -grad, direction)
            slope = torch.where(uphill, -(grad * grad).sum(1), slope)
            rho = torch.where(uphill[:, None], torch.zeros_like(rho), rho)
        # First step of a fresh history: at most a unit change (torch.optim.LBFGS's rule).
        fresh = rho.eq(0).all(1)
        t = torch.where(fresh, (1 / grad.abs().sum(1).clamp(min=1e-30)).clamp(max=1.0), torch.ones_like(value))
        t = torch.where(active, t, torch.zeros_like(t))
        searching = active.clone()
        new_x, new_value, new_grad = x, value, grad
        for _ in range(MAX_HALVINGS):
            trial = x + t[:, None] * direction
            trial_value, trial_grad = value_and_grad(cost, trial)
            good = searching & torch.isfinite(trial_value) & (trial_value <= value + ARMIJO * t * slope)
            new_x = torch.where(good[:, None], trial, new_x)
            new_value = torch.where(good, trial_value, new_value)
            new_grad = torch.where(good[:, None], trial_grad, new_grad)
            searching &= ~good
            if not searching.any():
                break
            t = torch.where(searching, t / 2, t)
        moved = active & ~searching
        # No decrease along an L-BFGS direction: retry from steepest descent; along steepest
        # descent itself: this person is done.
        retry = active & searching & ~fresh
        rho = torch.where(retry[:, None], torch.zeros_like(rho), rho)
        s, y = new_x - x, new_grad - grad
        ys = (s * y).sum(1)
        keep = moved & (ys > 1e-10)  # curvature pairs that keep H positive definite
        if keep.any():
            steps = torch.where(keep[:, None, None], torch.cat([steps[:, 1:], s[:, None]], 1), steps)
            changes = torch.where(keep[:, None, None], torch.cat([changes[:, 1:], y[:, None]], 1), changes)
            rho = torch.where(keep[:, None], torch.cat([rho[:, 1:], (1 / ys.clamp(min=1e-10))[:, None]], 1), rho)
        converged = ((new_value - value).abs() < tolerance) | (s.abs().amax(1) <= tolerance)
        converged |= new_grad.abs().amax(1) <= GRADIENT_TOLERANCE
        active = (active & moved & ~converged) | retry
        x, value, grad = new_x, new_value, new_grad
    return x
