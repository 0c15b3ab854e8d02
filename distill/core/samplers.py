"""Samplers of the variance-preserving process for any number of steps N (PD Sec. 2).

Each sampler is a small function taking any denoiser (see `distill.core.denoiser`): denoise(z_t, t, cond) -> x-hat.
Times run on the uniform grid t_i = i / N from 1 to 0; the last step returns x-hat (as the official code does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch
from tqdm.auto import tqdm

from distill.core.denoiser import Cond, Denoiser
from distill.core.schedule import CosineSchedule, alpha_sigma_from_logsnr
from distill.core.seeding import SeededNoise

Callback = Optional[Callable[[int, torch.Tensor, torch.Tensor], None]]


def time_grid(steps: int) -> torch.Tensor:
    """t_i = i / N for i = N..0 (float64)."""
    if steps < 1:
        raise ValueError(f"number of sampling steps must be >= 1, got {steps}")
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


def predict_x(denoise: Denoiser, z: torch.Tensor, t: torch.Tensor, cond: Cond, clip_x: bool) -> torch.Tensor:
    """x-hat at time t (a scalar) for the whole batch, optionally clipped to [-1, 1] (official `clip_denoised`)."""
    x_hat = denoise(z, t.to(z.dtype).expand(z.shape[0]), cond)
    return x_hat.clamp(-1.0, 1.0) if clip_x else x_hat


def ddim_step(x_hat: torch.Tensor, z_t: torch.Tensor, alpha_t, sigma_t, alpha_s, sigma_s) -> torch.Tensor:
    """PD Eq. 7: z_s = alpha_s x-hat + sigma_s (z_t - alpha_t x-hat) / sigma_t."""
    return alpha_s * x_hat + (sigma_s / sigma_t) * (z_t - alpha_t * x_hat)


def ancestral_step(
    x_hat: torch.Tensor, z_t: torch.Tensor, logsnr_t, logsnr_s, gamma: float, noise: torch.Tensor
) -> torch.Tensor:
    """PD Eqs. 3-5: z_s = mu~_{s|t}(z_t, x-hat) + sqrt((sigma~^2_{s|t})^(1-gamma) (sigma^2_{t|s})^gamma) eps."""
    logsnr_t, logsnr_s = torch.as_tensor(logsnr_t, dtype=torch.float64), torch.as_tensor(logsnr_s, dtype=torch.float64)
    alpha_t, sigma_t = alpha_sigma_from_logsnr(logsnr_t)
    alpha_s, sigma_s = alpha_sigma_from_logsnr(logsnr_s)
    r = torch.exp(logsnr_t - logsnr_s)  # e^{lambda_t - lambda_s} < 1
    one_minus_r = -torch.expm1(logsnr_t - logsnr_s)
    mean_z, mean_x = r * alpha_s / alpha_t, one_minus_r * alpha_s  # Eq. 3
    log_var = (1.0 - gamma) * torch.log(one_minus_r * sigma_s**2) + gamma * torch.log(one_minus_r * sigma_t**2)
    std = torch.exp(0.5 * log_var)  # Eq. 5
    dt = z_t.dtype
    return mean_z.to(dt) * z_t + mean_x.to(dt) * x_hat + std.to(dt) * noise


# step(x_hat, z_t, t, s) -> z_s: one update of a sampler from time t to time s < t.
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def integrate(
    denoise: Denoiser, z: torch.Tensor, steps: int, step: Step, cond: Cond, clip_x: bool, callback: Callback,
    progress: bool, desc: str,
) -> torch.Tensor:
    """The loop every VP sampler shares: x-hat at each time of the grid, `step` to the next; the last returns x-hat."""
    ts = time_grid(steps)
    for i in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        x_hat = predict_x(denoise, z, ts[i], cond, clip_x)
        if callback is not None:
            callback(i, z, x_hat)
        if i == steps - 1:
            return x_hat
        z = step(x_hat, z, ts[i], ts[i + 1])
    raise AssertionError("unreachable")


def sample_ddim(
    denoise: Denoiser,
    z: torch.Tensor,
    steps: int,
    cond: Cond = None,
    schedule: CosineSchedule | None = None,
    clip_x: bool = True,
    callback: Callback = None,
    progress: bool = False,
) -> torch.Tensor:
    """Deterministic DDIM sampler (PD Eqs. 7-8) from z ~ N(0, I) at t = 1 to x at t = 0 in `steps` steps."""
    schedule = schedule or CosineSchedule()

    def step(x_hat: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        (alpha_t, sigma_t), (alpha_s, sigma_s) = schedule.alpha_sigma(t), schedule.alpha_sigma(s)
        return ddim_step(x_hat, z_t, *(c.to(z_t.dtype) for c in (alpha_t, sigma_t, alpha_s, sigma_s)))

    return integrate(denoise, z, steps, step, cond, clip_x, callback, progress, "DDIM")


def sample_ancestral(
    denoise: Denoiser,
    z: torch.Tensor,
    steps: int,
    noise: SeededNoise,
    gamma: float = 1.0,
    cond: Cond = None,
    schedule: CosineSchedule | None = None,
    clip_x: bool = True,
    callback: Callback = None,
    progress: bool = False,
) -> torch.Tensor:
    """Stochastic ancestral sampler (PD Eqs. 4-5); gamma interpolates the variance in log space between
    sigma~^2_{s|t} (gamma = 0) and sigma^2_{t|s} (gamma = 1, the official `fixed_large`). Noise comes from `noise`,
    one generator per sample, so results do not depend on the batch size."""
    if len(noise) != z.shape[0]:
        raise ValueError(f"noise has {len(noise)} generators for a batch of {z.shape[0]}")
    schedule = schedule or CosineSchedule()

    def step(x_hat: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return ancestral_step(x_hat, z_t, schedule.logsnr(t), schedule.logsnr(s), gamma, noise.randn_like(z_t))

    return integrate(denoise, z, steps, step, cond, clip_x, callback, progress, "ancestral")


SAMPLERS = ("ddim", "ancestral")


def run_sampler(
    name: str,
    denoise: Denoiser,
    shape: tuple[int, ...],
    seeds: list[int],
    steps: int,
    cond: Cond = None,
    schedule: CosineSchedule | None = None,
    clip_x: bool = True,
    gamma: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw one sample per seed: z_1 ~ N(0, I) from each sample's generator, then the named sampler."""
    noise = SeededNoise(seeds, device=device)
    z = noise.randn(*shape)
    if name == "ddim":
        return sample_ddim(denoise, z, steps, cond=cond, schedule=schedule, clip_x=clip_x)
    if name == "ancestral":
        return sample_ancestral(denoise, z, steps, noise, gamma=gamma, cond=cond, schedule=schedule, clip_x=clip_x)
    raise ValueError(f"unknown sampler {name!r}; expected one of {SAMPLERS}")
