"""Knowledge distillation (Luhman & Luhman 2021): a one-step student regresses its teacher's N-step DDIM output.

The teacher generates, once, a data set of pairs (z_1, x) with x = DDIM_N(teacher, z_1); the student, a denoiser
initialised from the teacher, is trained so that its one-step output x-hat(z_1, t=1) matches x:
    L = || x-hat_student(z_1, t = 1) - DDIM_N(teacher, z_1) ||^2   (mean over dimensions),
and samples with one DDIM step (one network evaluation), the baseline row of PD Table 2.
"""

from __future__ import annotations

import torch
from torch import nn

from distill.core.denoiser import Cond, Denoiser
from distill.core.distributed import local_rows
from distill.core.grids import uniform
from distill.core.samplers import sample_ddim
from distill.core.seeding import SeededNoise


def teacher_pairs(teacher: Denoiser, shape: tuple[int, ...], seeds: list[int], steps: int, cond: Cond = None,
                  clip_x: bool = True, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(z_1, x) for each seed: z_1 from the seed's generator, x the teacher's `steps`-step DDIM sample from it."""
    z = SeededNoise(seeds, device=device).randn(*shape)
    with torch.no_grad():
        x = sample_ddim(teacher, z, uniform(steps), cond, clip_x=clip_x)
    return z, x


def kd_loss(student: Denoiser, z1: torch.Tensor, x_target: torch.Tensor, cond: Cond = None) -> torch.Tensor:
    """Luhman & Luhman's regression: the student's x-hat at t = 1 against the teacher's sample from the same z_1."""
    x_hat = student(z1, torch.ones(z1.shape[0], dtype=z1.dtype, device=z1.device), cond)
    return (x_hat - x_target).pow(2).flatten(1).mean(dim=1).mean()


def make_kd_loss(student: Denoiser, z1: torch.Tensor, x: torch.Tensor, batch_size: int):
    """A loss_fn(net, gen) for `distill.core.training.train`: a batch of pairs drawn with `gen` (a rank of a
    data-parallel run keeps its rows of it), then `kd_loss`."""

    def loss_fn(net: nn.Module, gen: torch.Generator) -> torch.Tensor:
        idx = local_rows(torch.randint(len(z1), (batch_size,), generator=gen)).to(z1.device)
        return kd_loss(student, z1[idx], x[idx])

    return loss_fn
