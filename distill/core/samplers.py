"""Samplers: one signature, one grid convention, one callback, one registry (k-diffusion's `sampling.py` is the model).

Every sampler is a small function

    sample_x(denoise, z, sigmas, cond=None, noise=None, on_step=None, progress=False, *, clip_x=True, schedule=None,
             **its_own_options) -> x

of any denoiser (`distill.core.denoiser`: denoise(z_t, t, cond) -> x-hat), unit Gaussian noise z (the start state),
a grid of noise levels (`distill.core.grids`: N + 1 sigmas from sigma_0 down to a closing 0 for N steps), the
per-sample conditions (label, w, steps, any scalar: tensors of shape [B]), a per-sample noise source (`SeededNoise`,
for stochastic samplers) and the one callback every sampler honours, `OnStep`. The variance-preserving samplers
here (DDIM, ancestral, renoise) evaluate the denoiser at sigma_0 .. sigma_{N-1}, at their VP times, from z_{t_0} = z,
and return x-hat at sigma_{N-1} (as the official PD code does); the EDM sigma-form solvers
(distill/core/sigma_solvers.py) start from x = sigma_0 z and stop at sigma_{N-1}.

SAMPLERS (distill/core/sampler_registry.py) maps a name to its `SamplerSpec` (function, label, options, evaluation
count); the CLI's choices, the schema's enums, the Snakemake wildcard constraints and the report labels are read from
it. The sigma-form solvers register there too, on import of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from distill.core.denoiser import Cond, Denoiser
from distill.core.grids import from_sigmas, make_grid, times_of
from distill.core.sampler_registry import (SAMPLERS, Option, SamplerSpec,  # noqa: F401  (the registry, re-exported)
                                           get_sampler, register_sampler)
from distill.core.schedule import CosineSchedule, alpha_sigma_from_logsnr
from distill.core.seeding import SeededNoise

# The one callback every registered sampler honours: on_step(i, x) after step i, x the state the step reached at
# sigmas[i + 1] in the sigma form (x = z_t / alpha_t for a VP sampler's state z_t); after the last step, the sample it
# returns. Step i counts the sampler's steps, not its network evaluations.
OnStep = Optional[Callable[[int, torch.Tensor], None]]


def evaluations_per_step(denoise: Denoiser) -> int:
    """Network evaluations of one denoiser call: 1, or 2 for a classifier-free guided denoiser (its attribute)."""
    return int(getattr(denoise, "evaluations_per_call", 1))


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


def vp_times(sigmas: torch.Tensor, schedule: CosineSchedule) -> torch.Tensor:
    """A grid's VP times (`times_of`), checked: at least one step."""
    if len(sigmas) < 2:
        raise ValueError(f"a grid needs at least 2 noise levels (one step and the closing 0), got {len(sigmas)}")
    return times_of(sigmas, schedule)


def integrate(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, step: Step, cond: Cond, clip_x: bool,
              on_step: OnStep, progress: bool, desc: str, schedule: CosineSchedule) -> torch.Tensor:
    """The loop every VP sampler shares: x-hat at each level of the grid, `step` to the next; the last returns x-hat."""
    ts = vp_times(sigmas, schedule)
    steps = len(ts) - 1
    for i in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        x_hat = predict_x(denoise, z, ts[i], cond, clip_x)
        if i == steps - 1:
            report(on_step, i, x_hat)
            return x_hat
        z = step(x_hat, z, ts[i], ts[i + 1])
        report(on_step, i, z, sigmas[i + 1])
    raise AssertionError("unreachable")


def report(on_step: OnStep, i: int, z: torch.Tensor, sigma: torch.Tensor | None = None) -> None:
    """on_step's call with the state in the sigma form: a VP state z at noise level sigma is x = z sqrt(1 + sigma^2)
    (alpha = 1 / sqrt(1 + sigma^2)); with no sigma, z is already x. A sampler with no on_step skips it."""
    if on_step is not None:
        on_step(i, z if sigma is None else z * torch.sqrt(1 + sigma**2).to(z.dtype))


@register_sampler("ddim", "DDIM")
def sample_ddim(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
                noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
                clip_x: bool = True, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """Deterministic DDIM sampler (PD Eqs. 7-8) along the grid's VP times (no noise is drawn)."""
    schedule = schedule or CosineSchedule()

    def step(x_hat: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        (alpha_t, sigma_t), (alpha_s, sigma_s) = schedule.alpha_sigma(t), schedule.alpha_sigma(s)
        return ddim_step(x_hat, z_t, *(c.to(z_t.dtype) for c in (alpha_t, sigma_t, alpha_s, sigma_s)))

    return integrate(denoise, z, sigmas, step, cond, clip_x, on_step, progress, "DDIM", schedule)


@register_sampler("ancestral", "Stochastic", stochastic=True,
                  gamma=Option(float, 0.0, 1.0, "variance exponent: 0 = posterior variance, 1 = official fixed_large"))
def sample_ancestral(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
                     noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
                     clip_x: bool = True, schedule: CosineSchedule | None = None, gamma: float = 1.0) -> torch.Tensor:
    """Stochastic ancestral sampler (PD Eqs. 4-5); gamma interpolates the variance in log space between
    sigma~^2_{s|t} (gamma = 0) and sigma^2_{t|s} (gamma = 1, the official `fixed_large`). Noise comes from `noise`,
    one generator per sample, so results do not depend on the batch size."""
    if noise is None or len(noise) != z.shape[0]:
        raise ValueError(f"the ancestral sampler needs a noise source with one generator per sample "
                         f"({z.shape[0]}), got {None if noise is None else len(noise)}")
    schedule = schedule or CosineSchedule()

    def step(x_hat: torch.Tensor, z_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return ancestral_step(x_hat, z_t, schedule.logsnr(t), schedule.logsnr(s), gamma, noise.randn_like(z_t))

    return integrate(denoise, z, sigmas, step, cond, clip_x, on_step, progress, "ancestral", schedule)


def renoise_step(z_k: torch.Tensor, alpha_k, sigma_k, alpha_s, sigma_s, noise: torch.Tensor) -> torch.Tensor:
    """Forward diffusion from time k back up to s > k (PD Eq. 1, q(z_s | z_k)): z_s = (alpha_s / alpha_k) z_k +
    sigma_{s|k} eps with sigma^2_{s|k} = sigma_s^2 - (alpha_s / alpha_k)^2 sigma_k^2 (= (1 - e^{lambda_s - lambda_k})
    sigma_s^2)."""
    ratio = alpha_s / alpha_k
    std = (sigma_s**2 - ratio**2 * sigma_k**2).clamp_min(0.0).sqrt()
    return ratio.to(z_k.dtype) * z_k + std.to(z_k.dtype) * noise


@register_sampler("renoise", "S (2 forward, 1 back; reconstructed)", stochastic=True)
def sample_renoise(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
                   noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
                   clip_x: bool = True, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """The N-step stochastic sampler of Meng et al. (2023), a RECONSTRUCTION (the paper's equations are not
    published; ../shared/papers PUBLISHED.md 2(c)): at the grid's VP times, from t = ts[i], one deterministic DDIM
    step of twice the step length to k = ts[i + 2], then forward noise back to s = ts[i + 1] (`renoise_step`); the
    last step returns x-hat (deterministic). One evaluation per step, N in all; per-sample noise from `noise` (batch-size independent)."""
    if noise is None or len(noise) != z.shape[0]:
        raise ValueError(f"the renoise sampler needs a noise source with one generator per sample "
                         f"({z.shape[0]}), got {None if noise is None else len(noise)}")
    schedule = schedule or CosineSchedule()
    ts = vp_times(sigmas, schedule)
    steps = len(ts) - 1
    for i in tqdm(range(steps), desc="renoise", disable=not progress, leave=False):
        x_hat = predict_x(denoise, z, ts[i], cond, clip_x)
        if i == steps - 1:
            report(on_step, i, x_hat)
            return x_hat
        (a_t, s_t), (a_k, s_k), (a_s, s_s) = (schedule.alpha_sigma(u) for u in (ts[i], ts[i + 2], ts[i + 1]))
        z_k = ddim_step(x_hat, z, *(c.to(z.dtype) for c in (a_t, s_t, a_k, s_k)))  # 2 steps forward
        z = renoise_step(z_k, a_k, s_k, a_s, s_s, noise.randn_like(z))  # 1 step back
        report(on_step, i, z, sigmas[i + 1])
    raise AssertionError("unreachable")


def run_sampler(
    name: str,
    denoise: Denoiser,
    shape: tuple[int, ...],
    seeds: list[int],
    steps: int,
    cond: Cond = None,
    schedule: CosineSchedule | None = None,
    clip_x: bool = True,
    grid: str = "uniform",
    device: torch.device | str = "cpu",
    progress: bool = False,
    grid_options: Mapping[str, float] | None = None,
    sigmas: torch.Tensor | None = None,
    **options: Any,
) -> torch.Tensor:
    """Draw one sample per seed: z ~ N(0, I) from each sample's generator, then the named sampler on the named grid
    with its own options (e.g. gamma=0.5 for 'ancestral'); unknown names and options are errors. `sigmas` (a
    decreasing sigma-form schedule, e.g. one GITS found) replaces the named grid: its `steps` states."""
    spec = get_sampler(name)
    options = spec.check_options(options)
    noise = SeededNoise(seeds, device=device)
    z = noise.randn(*shape)
    grid_sigmas = make_grid(grid, steps, schedule, **dict(grid_options or {})) if sigmas is None else \
        from_sigmas(sigmas, schedule)
    return spec.fn(denoise, z, grid_sigmas, cond, noise, None, progress, clip_x=clip_x, schedule=schedule, **options)


# the EDM sigma-form solvers register themselves beside the VP samplers
import distill.core.sigma_solvers  # noqa: E402,F401
