"""openhmr.fit.levenberg_marquardt: Levenberg-Marquardt with one damping and stopping test
per person, its Jacobian by forward differences in one batched call."""

import torch

from openhmr.fit.levenberg_marquardt import minimise_each_lm


def rosenbrock_residuals(candidates: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(B, M, 2) -> (B, M, 2): Rosenbrock's valley as two residuals, minimum (1, 1); ``scale``
    (B,) makes some people's problems far steeper than others'."""
    x, y = candidates[..., 0], candidates[..., 1]
    root = scale.sqrt()[:, None]
    return torch.stack([root * (1 - x), 10 * root * (y - x.square())], dim=-1)


def test_each_person_reaches_their_own_minimum():
    scale = torch.tensor([1.0, 1e-2, 1e2], dtype=torch.float64)
    start = torch.tensor([[-1.2, 1.0], [0.5, -0.5], [2.0, 2.0]], dtype=torch.float64)
    found = minimise_each_lm(lambda c: rosenbrock_residuals(c, scale), start, iterations=100, tolerance=1e-12)
    assert torch.allclose(found, torch.ones_like(found), atol=1e-3), found


def test_a_person_s_steps_do_not_depend_on_the_batch():
    """One damping for everyone would let the steep person's failures shrink the easy person's
    steps. Alone and in a batch must agree after any number of iterations."""
    scale = torch.tensor([1.0, 1e3], dtype=torch.float64)
    start = torch.tensor([[-1.2, 1.0], [0.0, 2.0]], dtype=torch.float64)
    for iterations in (2, 5, 20):
        together = minimise_each_lm(lambda c: rosenbrock_residuals(c, scale), start, iterations)
        for i in range(2):
            alone = minimise_each_lm(lambda c, i=i: rosenbrock_residuals(c, scale[i : i + 1]), start[i : i + 1], iterations)
            assert torch.allclose(alone[0], together[i], atol=1e-12, rtol=0), (iterations, i, alone, together[i])


def test_a_finished_person_stays_put_and_a_step_never_raises_the_cost():
    scale = torch.tensor([1.0, 1.0], dtype=torch.float64)
    start = torch.tensor([[1.0, 1.0], [-1.2, 1.0]], dtype=torch.float64)  # the first is at its minimum
    cost = lambda x: rosenbrock_residuals(x[:, None], scale)[:, 0].square().sum(1)
    previous = cost(start)
    for iterations in range(1, 8):
        found = minimise_each_lm(lambda c: rosenbrock_residuals(c, scale), start, iterations)
        assert torch.equal(found[0], start[0])
        assert (cost(found) <= previous).all()
        previous = cost(found)
    assert previous[1] < 0.05 * cost(start)[1]  # the valley is long: 24.2 to 0.62 in 7 Jacobians


def test_several_dampings_per_call_keep_the_steps_of_one_at_a_time(monkeypatch):
    """Trying 4 values of λ in one batched call keeps, per person, the smallest that lowers the
    cost: the same path as trying them one call at a time, in fewer calls."""
    import openhmr.fit.levenberg_marquardt as lm

    scale = torch.tensor([1.0, 1e3, 1e-2], dtype=torch.float64)
    start = torch.tensor([[-1.2, 1.0], [0.0, 2.0], [2.0, -1.0]], dtype=torch.float64)
    found, calls = {}, {}
    for tries in (1, 4):
        monkeypatch.setattr(lm, "TRIES", tries)
        count = [0]

        def counted(c):
            count[0] += 1
            return rosenbrock_residuals(c, scale)

        found[tries] = minimise_each_lm(counted, start, iterations=12)
        calls[tries] = count[0]
    assert torch.allclose(found[1], found[4], atol=1e-12, rtol=0), (found[1], found[4])
    assert calls[4] < calls[1], calls
