"""Simple and Fast Distillation (Zhou et al., NeurIPS 2024): a student learns, step by step along its own few-step
Euler trajectory, to land where its teacher's accurate solver lands (zju-pi/diff-sampler, sfd-main/training/loss.py
and training/training_loop.py; the notation is EDM's, x_sigma = x_0 + sigma eps, D the denoiser).

- Student grid: n = num_steps states of EDM's polynomial schedule from sigma_max to sigma_min (the suite's `edm`
  grid); the student takes n - 1 Euler steps, the first one analytic with AFS (no network call, no update).
- Teacher grid: the same polynomial with (M + 1)(n - 1) + 1 states, so student state i is teacher state i (M + 1):
  M teacher steps are inserted in each student step (`loss.get_teacher_traj`).
- Teacher trajectory: the teacher's solver (DPM-Solver++(3M), no AFS) over the fine grid from the same x_{sigma_max};
  its states at the student's states are the targets.
- Student update: from its own (detached) state x_i, one Euler step x_{i+1} = x_i + (sigma_{i+1} - sigma_i)
  (x_i - D_theta(x_i; sigma_i)) / sigma_i; L = sum |x_{i+1} - x_tea_{i+1}| / batch (L1, the paper's Eq. 7), one
  optimizer step per student step.
- SFD-v: num_steps is drawn per iteration and given to the student as its `steps` condition.
- Second stage (1 NFE): the teacher is a first-stage student sampled with Euler (its own AFS and step condition);
  the loss of the last step adds a perceptual term.
No training data is used: each iteration draws fresh noise and a fresh teacher trajectory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from distill.core.denoiser import Cond, Denoiser
from distill.core.distributed import local_rows
from distill.core.grids import make_grid
from distill.core.schedule import CosineSchedule
from distill.core.sampler_registry import get_solver
from distill.core.sigma_solvers import euler_step, sigma_denoiser

LOSSES = ("l1", "l2")
Features = Callable[[torch.Tensor], torch.Tensor]  # images in [-1, 1] -> features (a perceptual term's space)


def student_sigmas(num_steps: int, grid: Mapping[str, float], schedule: CosineSchedule | None = None) -> torch.Tensor:
    """The student's n states (float64), exactly those `distill sample` uses on the `edm` grid with these options."""
    return make_grid("edm", num_steps, schedule, **grid)[:-1]  # the closing 0 left out


def teacher_grid_size(num_steps: int, inserted: int) -> int:
    """(M + 1)(n - 1) + 1 states: M teacher steps inside each student step (sfd-main/training/loss.py)."""
    return (inserted + 1) * (num_steps - 1) + 1


def teacher_targets(teacher: Denoiser, x0: torch.Tensor, num_steps: int, inserted: int, grid: Mapping[str, float],
                    solver: str, options: Mapping[str, Any], cond: Cond = None, clip: str | bool = "none",
                    schedule: CosineSchedule | None = None) -> list[torch.Tensor]:
    """The teacher's states at the student's states 1..n-1: its `solver` over the fine grid from x0 (at sigma_max),
    kept every M + 1 steps (`tea_slice` of sfd-main/training/loss.py); its x-hat clipped by `clip`
    (sigma_solvers.clip_x_hat; the official DPM-Solver++ teacher: 'dynamic')."""
    schedule = schedule or CosineSchedule()
    fine = student_sigmas(teacher_grid_size(num_steps, inserted), grid, schedule)
    states: dict[int, torch.Tensor] = {}
    keep = {i * (inserted + 1) - 1 for i in range(1, num_steps)}  # after step j the state is at fine[j + 1]
    with torch.no_grad():
        get_solver(solver)(sigma_denoiser(teacher, schedule, cond, clip), x0, fine, **options,
                        on_step=lambda j, x: states.__setitem__(j, x) if j in keep else None)
    return [states[j] for j in sorted(keep)]


def trajectory_loss(x_student: torch.Tensor, x_teacher: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """SFD's L1, sum over the image of |x_s - x_t|, mean over the batch (training_loop.py: loss.sum() / batch);
    "l2" the squared distance (the ablation)."""
    diff = (x_student - x_teacher).flatten(1)
    if kind == "l1":
        return diff.abs().sum(1).mean()
    if kind == "l2":
        return diff.pow(2).sum(1).mean()
    raise ValueError(f"unknown SFD loss {kind!r}; expected one of {LOSSES}")


def perceptual_loss(features: Features, x_student: torch.Tensor, x_teacher: torch.Tensor) -> torch.Tensor:
    """The second stage's perceptual term on the last step: the squared distance of the two images' features,
    mean over the batch (the paper's LPIPS is one such feature space)."""
    return (features(x_student) - features(x_teacher)).flatten(1).pow(2).sum(1).mean()


def student_steps(student: Denoiser, x0: torch.Tensor, targets: Sequence[torch.Tensor], sigmas: torch.Tensor,
                  afs: bool, update: Callable[[torch.Tensor], None], cond: Cond = None, clip: str | bool = "none",
                  loss: str = "l1", features: Features | None = None, perceptual_weight: float = 0.0,
                  schedule: CosineSchedule | None = None) -> list[torch.Tensor]:
    """The student's Euler steps along its own trajectory from x0, `update(loss)` after each (one optimizer step per
    student step); AFS's first step is analytic and makes no update; x-hat clipped by `clip` (the official Euler:
    'none', so no pixel loses its gradient). The perceptual term of the last step is weighted by the image's C x H x W
    as the official loss weighs LPIPS (sfd-main/training/loss.py adds the LPIPS scalar to every element of the
    per-pixel L1 before the sum). Returns the losses."""
    d = sigma_denoiser(student, schedule or CosineSchedule(), cond, clip)
    x, losses, last = x0, [], len(sigmas) - 2
    for i in range(len(sigmas) - 1):
        if afs and i == 0:  # d_0 = x / sqrt(1 + sigma_0^2): no network, no gradient (training_loop.py)
            x = euler_step(d, x, sigmas[0], sigmas[1], analytic=True)
            continue
        x_next = euler_step(d, x, sigmas[i], sigmas[i + 1])
        value = trajectory_loss(x_next, targets[i], loss)
        if features is not None and perceptual_weight > 0 and i == last:
            elements = x_next[0].numel()  # C x H x W: the official LPIPS term's effective weight
            value = value + perceptual_weight * elements * perceptual_loss(features, x_next, targets[i])
        update(value)
        losses.append(value.detach())
        x = x_next.detach()
    return losses


def draw_num_steps(choices: Sequence[int], gen: torch.Generator) -> int:
    """SFD-v: num_steps drawn uniformly per iteration (training_loop.py: randint(4, 7))."""
    return int(choices[int(torch.randint(len(choices), (1,), generator=gen))])


def draw_noise(batch_size: int, shape: Sequence[int], gen: torch.Generator,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """The batch's z ~ N(0, I), drawn whole from `gen` (the start state is sigma_0 z); a rank of a data-parallel run
    keeps its rows."""
    return local_rows(torch.randn(batch_size, *shape, generator=gen)).to(device)
