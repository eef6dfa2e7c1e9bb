"""Levenberg-Marquardt over many independent least-squares problems at once (one per person).

The fitting cost is a sum of squares (:meth:`openhmr.fit.objective.Objective.residuals`), so
Gauss-Newton's curvature JᵀJ comes with the Jacobian: a body fit that L-BFGS takes 150
evaluations of cost and gradient to settle, this settles in about 15 Jacobians. The Jacobian is
taken by forward differences, all columns of all people in one batched call of the residuals:
the body model is many small operations whose cost hardly grows with the batch on a CPU, so
the residuals of 103 bodies cost about 4 bodies' time (40 against 10 ms), where forward-mode
autograd over the same columns cost 3-4 times more (measured on Anny, one thread).

Per iteration and person: solve (JᵀJ + λ (diag JᵀJ + δ)) s = -Jᵀr, try x + s; keep it and
lower λ when the cost falls, else raise λ and try again from the same point (the same
Jacobian). λ, 4λ, 16λ and 64λ are tried in one batched call and the smallest that lowers the
cost is kept: the step that trials one at a time would keep, in one call where those took
about two per Jacobian. A person stops when a kept step lowers their cost by less than
``tolerance`` of it, or λ grows past any useful step. Every person has their own λ and
stopping test, so a person's result is the same alone as in any batch, up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

DIFFERENCE_STEP = 1e-3  # forward-difference step in the fitted values' own units (radians, log-scale, logits)
START_DAMPING = 1e-3
MAX_DAMPING = 1e8
FLOOR = 1e-6  # δ: keeps a column that no residual sees (a joint without keypoints) solvable
RAISE = 4.0  # λ's factor after a step that does not lower the cost
# λ values tried in one batched evaluation: the body model is overhead-bound (keypoint stage,
# one thread: 3.5 ms a call of 4 rows, 3.0 of one), and a Jacobian took about two trials.
TRIES = 4


def minimise_each_lm(residuals_many: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, iterations: int,
                     tolerance: float = 1e-5) -> torch.Tensor:  # fmt: skip
    """Minimise every person's Σ residuals² from x (B, P); returns the minimisers (B, P).

    ``residuals_many`` maps candidates (B, M, P), M values per person, to their residuals
    (B, M, R), row b depending on person b's values only. ``iterations``: Jacobians at most.
    """
    x = x.detach().clone()
    size = x.shape[1]
    eye = torch.eye(size, dtype=x.dtype, device=x.device)
    probes = torch.cat([torch.zeros_like(eye[:1]), DIFFERENCE_STEP * eye])  # (P + 1, P)
    raises = RAISE ** torch.arange(TRIES, dtype=x.dtype, device=x.device)  # (T,) λ's factors in one call
    rows = torch.arange(len(x), device=x.device)
    with torch.no_grad():
        r = residuals_many(x[:, None])[:, 0]  # (B, R)
        cost = r.square().sum(1)
        damping = torch.full_like(cost, START_DAMPING)
        active = torch.isfinite(cost)
        for _ in range(iterations):
            if not active.any():
                break
            around = residuals_many(x[:, None] + probes)  # (B, P + 1, R)
            jacobian = ((around[:, 1:] - around[:, :1]) / DIFFERENCE_STEP).transpose(1, 2)  # (B, R, P)
            curvature = jacobian.transpose(1, 2) @ jacobian  # (B, P, P)
            gradient = (jacobian.transpose(1, 2) @ r[..., None])[..., 0]  # (B, P)
            scale = curvature.diagonal(dim1=1, dim2=2) + FLOOR
            # Raise λ from the same Jacobian until the step lowers the cost: TRIES values of λ
            # (λ, 4λ, 16λ, ...) in one batched evaluation, the smallest that lowers the cost
            # kept, which is the step one-at-a-time trials would keep (people past it wait).
            trying = active.clone()
            while trying.any():
                dampings = damping[:, None] * raises  # (B, T)
                system = curvature[:, None] + torch.diag_embed(dampings[..., None] * scale[:, None])  # (B, T, P, P)
                steps, info = torch.linalg.solve_ex(system, -gradient[:, None].expand(-1, TRIES, -1))
                valid = (info == 0) & trying[:, None] & (dampings < MAX_DAMPING)
                steps = torch.where(valid[..., None], steps, torch.zeros_like(steps))
                trials = residuals_many(x[:, None] + steps)  # (B, T, R)
                trial_costs = trials.square().sum(2)
                lower = valid & torch.isfinite(trial_costs) & (trial_costs < cost[:, None])
                better = lower.any(1)
                first = lower.to(torch.uint8).argmax(1)  # the smallest λ that lowers the cost
                gain = (cost - trial_costs[rows, first]) / cost.clamp(min=1e-30)
                x = torch.where(better[:, None], x + steps[rows, first], x)
                r = torch.where(better[:, None], trials[rows, first], r)
                cost = torch.where(better, trial_costs[rows, first], cost)
                worse = trying & ~better
                damping = torch.where(better, (dampings[rows, first] / 3).clamp(min=1e-9),
                                      torch.where(worse, damping * RAISE**TRIES, damping))  # fmt: skip
                active &= ~(better & (gain < tolerance)) & (damping < MAX_DAMPING)
                trying &= worse & active
    return x
