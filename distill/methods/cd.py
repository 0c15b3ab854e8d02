"""Consistency distillation (Song et al., ICML 2023), as the official code makes it (openai/consistency_models,
cm/karras_diffusion.py `consistency_losses`, `get_scalings_for_boundary_condition`, `stochastic_iterative_sampler`;
the CIFAR-10 settings from openai/consistency_models_cifar10, configs/cifar10_ve_cd.py).

The consistency function of a denoiser D in EDM's sigma form (Karras et al. 2022) is
    f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(x, sigma),                                          (CM Eq. 5)
    c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2),
    c_out = (sigma - sigma_min) sigma_data / sqrt(sigma^2 + sigma_data^2),
with F the network output of EDM's preconditioning D = c_skip^EDM x + c_out^EDM F, so f(x, sigma_min) = x exactly (the
boundary condition). Any suite denoiser gives its F as (D - c_skip^EDM x) / c_out^EDM: on an EDM network this is the
official construction (the student is the teacher's network with the boundary scalings), on a VP network it is the
same function of its x-hat.

CD loss (CM Eq. 7, official `consistency_losses`): draw n uniform in {0, ..., N-2} on the Karras grid of N sigmas,
x_n = x + sigma_n z, x-hat_{n+1} one teacher Heun (or Euler) step from sigma_n to sigma_{n+1}, and
    L = lambda(sigma_n) d(f_theta(x_n, sigma_n), f_theta-(x-hat_{n+1}, sigma_{n+1})),
with theta- the target network (an EMA of theta with rate mu; mu = 0 is theta itself under stop-gradient, the CIFAR-10
setting) and d the l2 or l1 distance (LPIPS needs weights this suite cannot download; the official code offers l2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from distill.core.denoiser import Cond, Denoiser
from distill.core.grids import make_grid
from distill.core.sampler_registry import register_sampler
from distill.core.schedule import CosineSchedule
from distill.core.seeding import SeededNoise
from distill.core.sigma_solvers import OnStep, SigmaDenoiser, sigma_denoiser, states_of
# EDM's sigma_data 0.5, as cm/karras_diffusion.py KarrasDenoiser(sigma_data=0.5) and configs/cifar10_ve_cd.py data_std
from distill.core.weighting import SIGMA_DATA

DISTANCES = ("l2", "l1")  # cm/karras_diffusion.py loss_norm (its "lpips" needs downloaded VGG weights)
SOLVERS = ("heun", "euler")  # cm/karras_diffusion.py heun_solver / euler_solver


def _rows(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample [B] (or scalar) tensor shaped to broadcast over `like`'s rows (the official `append_dims`)."""
    v = torch.as_tensor(v, device=like.device)
    return v.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def boundary_scalings(sigma: torch.Tensor, sigma_min: float, sigma_data: float = SIGMA_DATA):
    """(c_skip, c_out) of the consistency function (`get_scalings_for_boundary_condition`): (1, 0) at sigma_min."""
    c_skip = sigma_data**2 / ((sigma - sigma_min) ** 2 + sigma_data**2)
    c_out = (sigma - sigma_min) * sigma_data / (sigma**2 + sigma_data**2) ** 0.5
    return c_skip, c_out


def consistency_function(d: SigmaDenoiser, sigma_min: float, sigma_data: float = SIGMA_DATA) -> SigmaDenoiser:
    """f(x, sigma) of a sigma-form denoiser D: c_skip x + c_out F with F = (D - c_skip^EDM x) / c_out^EDM, i.e.
    f = c_skip x + (sigma - sigma_min) / sigma * (D - sigma_data^2 / (sigma^2 + sigma_data^2) x)."""

    def f(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).expand(x.shape[0])
        c_skip, _ = boundary_scalings(sigma, sigma_min, sigma_data)
        edm_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        # c_out / c_out^EDM = (sigma - sigma_min) / sigma; zero at sigma_min, where f = x exactly
        return _rows(c_skip, x) * x + _rows((sigma - sigma_min) / sigma, x) * (d(x, sigma) - _rows(edm_skip, x) * x)

    return f


def karras_sigmas(num_scales: int, sigma_min: float, sigma_max: float, rho: float,
                  schedule: CosineSchedule | None = None) -> torch.Tensor:
    """The N = num_scales sigmas of the official discretisation, sigma_max ... sigma_min (float64): EDM's polynomial
    grid (distill.core.grids `edm`), (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho."""
    grid = make_grid("edm", num_scales, schedule, rho=rho, sigma_min=sigma_min, sigma_max=sigma_max)
    return grid[:-1]  # the closing 0 left out


OdeStep = Callable[[SigmaDenoiser, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def teacher_step(d: SigmaDenoiser, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
                 solver: str | OdeStep = "heun") -> torch.Tensor:
    """One step of the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma from sigma to sigma_next, per
    sample ([B] sigmas), Heun's (two evaluations) or Euler's (one): the official `heun_solver` / `euler_solver`; or
    a given step(D, x, sigma, sigma_next) (an exact one, for an analytic teacher)."""
    if callable(solver):
        return solver(d, x, sigma, sigma_next)
    s, s_next = _rows(sigma, x), _rows(sigma_next, x)
    direction = (x - d(x, sigma)) / s
    x_euler = x + direction * (s_next - s)
    if solver == "euler":
        return x_euler
    if solver != "heun":
        raise ValueError(f"unknown teacher solver {solver!r}; expected one of {list(SOLVERS)}")
    return x + (direction + (x_euler - d(x_euler, sigma_next)) / s_next) * (s_next - s) / 2


def distance(a: torch.Tensor, b: torch.Tensor, norm: str) -> torch.Tensor:
    """d(a, b) per sample, a mean over dimensions (the official `mean_flat`)."""
    if norm == "l2":
        return (a - b).pow(2).flatten(1).mean(dim=1)
    if norm == "l1":
        return (a - b).abs().flatten(1).mean(dim=1)
    raise ValueError(f"unknown distance {norm!r}; expected one of {list(DISTANCES)}")


def cd_loss(student: SigmaDenoiser, target: SigmaDenoiser, teacher: SigmaDenoiser, x: torch.Tensor,
            sigmas: torch.Tensor, gen: torch.Generator, norm: str = "l2", solver: str | OdeStep = "heun") -> torch.Tensor:
    """The CD loss of a batch of data x (CM Eq. 7, uniform weighting lambda = 1): `student` and `target` are consistency
    functions f(x, sigma) (the target evaluated without gradient), `teacher` the teacher's D(x, sigma). Indices and
    noise are drawn with `gen` on the CPU, so a run is the same on any device."""
    n = torch.randint(0, len(sigmas) - 1, (x.shape[0],), generator=gen)
    sigma, sigma_next = sigmas[n].to(x.device), sigmas[n + 1].to(x.device)
    x_n = x + torch.randn(x.shape, generator=gen).to(x.device, x.dtype) * _rows(sigma, x)
    with torch.no_grad():
        x_next = teacher_step(teacher, x_n, sigma, sigma_next, solver)
        aim = target(x_next, sigma_next)
    return distance(student(x_n, sigma), aim, norm).mean()


def ema_into(target: nn.Module, online: nn.Module, mu: float) -> None:
    """theta- <- mu theta- + (1 - mu) theta (cm/train_util.py `_update_target_ema`); mu = 0 copies theta."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters()):
            t.lerp_(o, 1.0 - mu)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)


def multistep_sigmas(num_scales: int, indices: list[int], sigma_min: float, sigma_max: float, rho: float,
                     schedule: CosineSchedule | None = None) -> list[float]:
    """The states of the official multistep sampler's time list `ts` (indices into the N-sigma grid, first 0, last
    N - 1; `stochastic_iterative_sampler`): the sigmas at those indices, the last being sigma_min."""
    if not indices or indices[0] != 0 or indices[-1] != num_scales - 1 or sorted(set(indices)) != list(indices):
        raise ValueError(f"the time list {indices} must increase from 0 to N - 1 = {num_scales - 1} (the official "
                         "`ts`: 0, ..., N - 1)")
    grid = karras_sigmas(num_scales, sigma_min, sigma_max, rho, schedule)
    return [float(grid[i]) for i in indices]


@register_sampler("consistency", "Consistency model (multistep)", stochastic=True,
                  evaluations=lambda n, options: n - 1)
def sample_consistency(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
                       noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
                       clip_x: bool = True, schedule: CosineSchedule | None = None,
                       sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """The official multistep consistency sampler (`stochastic_iterative_sampler`; one step: `sample_onestep`) over
    the grid's n states sigma_0 > ... > sigma_{n-1} = sigma_min: x = sigma_0 z; n - 1 times x-hat = f(x, sigma_i) and
    x = x-hat + sqrt(sigma_{i+1}^2 - sigma_min^2) z_i, so the last state returns x-hat (n - 1 evaluations). `denoise`
    is the student's denoiser; its consistency function is taken with sigma_min the grid's last state. x-hat is
    clipped by the sampling setting clip_x (the official `clip_denoised`)."""
    schedule = schedule or CosineSchedule()
    sigmas = states_of(sigmas, "consistency")
    sigma_min = float(sigmas[-1])
    f = consistency_function(sigma_denoiser(denoise, schedule, cond, "none"), sigma_min, sigma_data)
    x = z * sigmas[0].to(z.dtype)
    for i in range(len(sigmas) - 1):
        x_hat = f(x, sigmas[i])
        x_hat = x_hat.clamp(-1.0, 1.0) if clip_x else x_hat
        if i == len(sigmas) - 2:
            if on_step is not None:
                on_step(i, x_hat)
            return x_hat
        draw = noise.randn_like(x) if noise is not None else torch.randn_like(x)
        x = x_hat + draw * float((sigmas[i + 1] ** 2 - sigma_min**2) ** 0.5)
        if on_step is not None:  # the state at sigmas[i + 1]
            on_step(i, x)
    raise AssertionError("unreachable")


def student_denoiser(denoise: Denoiser, sigma_min: float, cond: Cond = None,
                     schedule: CosineSchedule | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The consistency function of a suite denoiser (its x-hat unclipped, as the official training's)."""
    return consistency_function(sigma_denoiser(denoise, schedule or CosineSchedule(), cond, "none"), sigma_min)
