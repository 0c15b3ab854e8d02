"""GITS (Chen, Zhou et al. 2024, "On the Trajectory Regularity of ODE-based Diffusion Sampling"), SFD Table 2's
cheap baseline by the same authors: a time schedule found by dynamic programming on a few teacher trajectories
(zju-pi/diff-sampler, gits-main/gits_utils.py `get_dp_list`, `dp`, `cal_deviation`).

1. Run the teacher's solver over a fine polynomial grid of n_T states (gits-main/launch.sh: 61, iPNDM) from a batch
   of noise; keep every state x_i and the direction d_i = (x_i - D(x_i; sigma_i)) / sigma_i at it.
2. Cost of one coarse step from fine state i to fine state j > i: the Euler step x_i + (sigma_j - sigma_i) d_i
   against the teacher's x_j, by a metric: 'l1' / 'l2' (the norm of the difference, mean over the batch) or 'dev'
   (the official default: the step's deviation from the straight line from the trajectory's start to its end, minus
   the teacher's own deviation at j).
3. Dynamic programming picks the K = num_steps - 1 steps from state 0 to state n_T - 1 of least cost, step m from
   the start weighted coeff^m (coeff 1.15 for CIFAR-10: the late steps, near the data, weigh more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from distill.core.sampler_registry import get_solver
from distill.core.sigma_solvers import SigmaDenoiser

METRICS = ("dev", "l1", "l2")


def teacher_trajectory(d: SigmaDenoiser, x0: torch.Tensor, sigmas: torch.Tensor, solver: str,
                       options: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(states [n_T, B, ...] from x0 to the last state, directions [n_T - 1, B, ...] at every state but the last)."""
    states = [x0]
    with torch.no_grad():
        get_solver(solver)(d, x0, sigmas, **options, on_step=lambda i, x: states.append(x))
        directions = [(x - d(x, s)) / s.to(x.dtype) for x, s in zip(states[:-1], sigmas[:-1])]
    return torch.stack(states), torch.stack(directions)


def deviation(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Each point's distance from the line through start and end (gits_utils.cal_deviation), per sample:
    points [P, B, ...], start and end [B, ...] -> [P, B]."""
    line = (end - start).flatten(1)
    unit = line / line.norm(dim=1, keepdim=True)
    to_end = (end.unsqueeze(0) - points).flatten(2)  # [P, B, D]
    along = (to_end * unit.unsqueeze(0)).sum(-1, keepdim=True) * unit.unsqueeze(0)
    return (to_end - along).norm(dim=-1)


def cost_matrix(states: torch.Tensor, directions: torch.Tensor, sigmas: torch.Tensor, metric: str = "dev") -> np.ndarray:
    """C[i, j] for j > i: the cost of one Euler step from the teacher's state i to its state j (step 2 above)."""
    if metric not in METRICS:
        raise ValueError(f"unknown GITS metric {metric!r}; expected one of {METRICS}")
    n = len(sigmas)
    cost = np.zeros((n, n))
    start, end = states[0], states[-1]
    teacher_dev = torch.cat([deviation(states[1:-1], start, end).mean(1), torch.zeros(1, dtype=states.dtype)])
    for i in range(n - 1):
        for j in range(i + 1, n):
            x_next = states[i] + (sigmas[j] - sigmas[i]).to(states.dtype) * directions[i]
            if metric == "dev":  # official: (dev_stu - dev_tea[j - 1]).mean(), dev_tea padded with a 0 at the end
                cost[i, j] = float((deviation(x_next.unsqueeze(0), start, end)[0] - teacher_dev[j - 1]).mean())
            else:
                p = 1 if metric == "l1" else 2
                cost[i, j] = float((x_next - states[j]).flatten(1).norm(p=p, dim=1).mean())
    return cost


def dp_schedule(cost: np.ndarray, num_steps: int, coeff: float = 1.15) -> list[int]:
    """The fine-grid indices of the num_steps states (0 first, the last state last) of least weighted cost
    (gits_utils.dp): V[j][k] = min_i cost[j][i] + coeff V[i][k - 1], V[i][1] = cost[i][-1]."""
    n, steps = len(cost), num_steps - 1
    if not 1 <= steps <= n - 1:
        raise ValueError(f"GITS: {num_steps} states cannot be chosen from a teacher grid of {n}")
    value = np.full((n, steps + 1), np.inf)
    value[:, 1] = cost[:, -1]
    for k in range(2, steps + 1):
        for j in range(n - 1):
            for i in range(j + 1, n - 1):
                value[j, k] = min(value[j, k], cost[j, i] + coeff * value[i, k - 1])
    path, w = [0], 0
    for k in range(steps, 1, -1):  # the official walk: the first j that attains V[w][k]
        for j in range(w + 1, n):
            if value[w, k] == cost[w, j] + coeff * value[j, k - 1]:
                path.append(j)
                w = j
                break
    return path + [n - 1]
