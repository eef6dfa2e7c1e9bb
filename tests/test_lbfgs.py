"""openhmr.fit.lbfgs: L-BFGS with one history, line search and stopping test per person."""

import torch

from openhmr.fit.lbfgs import minimise_each


def rosenbrock(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(B, 2) -> (B,): a curved valley with its minimum at (1, 1); ``scale`` (B,) makes some
    people's problems far steeper than others'."""
    return scale * (1 - x[:, 0]).square() + 100 * scale * (x[:, 1] - x[:, 0].square()).square()


def test_each_person_reaches_their_own_minimum():
    scale = torch.tensor([1.0, 1e-2, 1e2], dtype=torch.float64)
    start = torch.tensor([[-1.2, 1.0], [0.5, -0.5], [2.0, 2.0]], dtype=torch.float64)
    found = minimise_each(lambda x: rosenbrock(x, scale), start, iterations=200)
    assert torch.allclose(found, torch.ones_like(found), atol=1e-4), found


def test_a_person_s_steps_do_not_depend_on_the_batch():
    """A shared line search would scale everyone's step by one length: the steep person's
    problem would then set the easy person's step. Alone and in a batch must agree, after any
    number of iterations."""
    scale = torch.tensor([1.0, 1e3], dtype=torch.float64)
    start = torch.tensor([[-1.2, 1.0], [0.0, 2.0]], dtype=torch.float64)
    for iterations in (3, 10, 40):
        together = minimise_each(lambda x: rosenbrock(x, scale), start, iterations)
        for i in range(2):
            alone = minimise_each(lambda x, i=i: rosenbrock(x, scale[i : i + 1]), start[i : i + 1], iterations)
            assert torch.allclose(alone[0], together[i], atol=1e-12, rtol=0), (iterations, i, alone, together[i])


def test_a_finished_person_stays_put_while_others_go_on():
    scale = torch.tensor([1.0, 1.0], dtype=torch.float64)
    start = torch.tensor([[1.0, 1.0], [-1.2, 1.0]], dtype=torch.float64)  # the first is at its minimum
    found = minimise_each(lambda x: rosenbrock(x, scale), start, iterations=100)
    assert torch.equal(found[0], start[0])
    assert (found[1] - 1).abs().max() < 1e-4
