"""GITS's schedule search (distill/methods/gits.py): the dynamic programme against brute force, the deviation by
hand, and the search on the analytic Gaussian teacher (whose trajectories are straight lines in x - mu)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from distill.core.schedule import CosineSchedule
from distill.core.sigma_solvers import sigma_denoiser
from distill.methods import gits, sfd

from conftest import GaussianDenoiser

GRID = {"rho": 7.0, "sigma_min": 0.006, "sigma_max": 80.0}


def _brute_force(cost, num_steps, coeff):
    """The weighted cost of every path 0 = i_0 < ... < i_K = n - 1 (step m from the start weighted coeff^m), and the
    cheapest."""
    n, k = len(cost), num_steps - 1
    best, best_path = np.inf, None
    for inner in itertools.combinations(range(1, n - 1), k - 1):
        path = [0, *inner, n - 1]
        value = sum(cost[a, b] * coeff ** m for m, (a, b) in enumerate(zip(path, path[1:])))
        if value < best - 1e-12:
            best, best_path = value, path
    return best_path


@pytest.mark.parametrize("seed,num_steps,coeff", [(0, 3, 1.0), (1, 4, 1.15), (2, 5, 0.9), (3, 2, 1.15)])
def test_the_dynamic_programme_finds_the_cheapest_schedule(seed, num_steps, coeff):
    rng = np.random.default_rng(seed)
    cost = np.triu(rng.uniform(0.1, 1.0, (9, 9)), 1)
    assert gits.dp_schedule(cost, num_steps, coeff) == _brute_force(cost, num_steps, coeff)
    with pytest.raises(ValueError, match="cannot be chosen"):
        gits.dp_schedule(cost, 10, coeff)


def test_deviation_by_hand():
    start, end = torch.zeros(1, 2), torch.tensor([[4.0, 0.0]])
    points = torch.tensor([[[1.0, 3.0]], [[2.0, -1.0]]])
    assert torch.allclose(gits.deviation(points, start, end), torch.tensor([[3.0], [1.0]]))


def test_the_search_on_a_gaussian_teacher():
    """Every Euler step of the Gaussian teacher from its own trajectory lands near it; the search returns a valid
    schedule of the asked size on the fine grid, the same for every metric's contract."""
    teacher = GaussianDenoiser(0.3, 0.2)
    sigmas = sfd.student_sigmas(13, GRID)
    d = sigma_denoiser(teacher, CosineSchedule(), None, False)
    x0 = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * sigmas[0]
    states, directions = gits.teacher_trajectory(d, x0, sigmas, "ipndm", {"max_order": 4})
    assert states.shape == (13, 6, 2, 3) and directions.shape == (12, 6, 2, 3)
    for metric in gits.METRICS:
        cost = gits.cost_matrix(states, directions, sigmas, metric)
        path = gits.dp_schedule(cost, 5, 1.15)
        assert path[0] == 0 and path[-1] == 12 and len(path) == 5 and path == sorted(set(path))
    l2 = gits.cost_matrix(states, directions, sigmas, "l2")
    assert all(l2[i, i + 1] < l2[i, min(i + 6, 12)] for i in range(6))  # a longer Euler step strays further
    with pytest.raises(ValueError, match="unknown GITS metric"):
        gits.cost_matrix(states, directions, sigmas, "l3")


def test_a_given_schedule_is_sampled_on_exactly_its_sigmas():
    from distill.core.grids import from_sigmas

    sigmas = torch.tensor([80.0, 10.0, 1.0, 0.05], dtype=torch.float64)
    assert torch.equal(from_sigmas(sigmas)[:-1], sigmas) and from_sigmas(sigmas)[-1] == 0
    with pytest.raises(ValueError, match="strictly decreasing"):
        from_sigmas([1.0, 2.0])
