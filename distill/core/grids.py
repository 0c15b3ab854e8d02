"""Noise-level grids by name: the one grid convention every sampler takes (k-diffusion's `get_sigmas_*`).

A grid of N steps is N + 1 noise levels sigma_0 > sigma_1 > ... > sigma_{N-1} > sigma_N = 0 (float64) in EDM's sigma
form, sigma = sigma_t / alpha_t = exp(-lambda / 2) of the variance-preserving process (Karras et al. 2022, Sec. 2);
the closing 0 is the clean data. A VP sampler of N steps evaluates its denoiser at sigma_0 .. sigma_{N-1} and returns
x-hat at sigma_{N-1} (the official PD code); a sigma-form solver steps through sigma_0 .. sigma_{N-1} and stops at
sigma_{N-1} = sigma_min (the official SFD code), the closing 0 left out. Grids are small functions
`grid(steps, schedule, **options) -> Tensor[N + 1]` in the registry GRIDS, so a sampler, a CLI flag or a params.yaml
key names one:
  - uniform: uniform in VP time, t_i = 1 - i/N (PD, DDIM);
  - logsnr: uniform in log-SNR lambda between lambda(1) and lambda(0) (DPM-Solver's 'logSNR' spacing, used by SFD);
  - edm: EDM's polynomial grid (Karras et al. 2022, Eq. 5), sigma_i = (s_max^(1/rho) + i/(N-1)
    (s_min^(1/rho) - s_max^(1/rho)))^rho for i < N;
  - edm_logsnr: the official solvers' 'logsnr' schedule, sigma_i uniform in log sigma.
The VP samplers read a grid's times through `times_of` (sigma = 0 is t = 0).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch

from distill.core.schedule import CosineSchedule
from distill.core.time_window import TimeWindow

Grid = Callable[..., torch.Tensor]
GRIDS: dict[str, Grid] = {}


def register_grid(name: str) -> Callable[[Grid], Grid]:
    def add(fn: Grid) -> Grid:
        if name in GRIDS:
            raise ValueError(f"grid {name!r} is registered twice")
        GRIDS[name] = fn
        return fn
    return add


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"number of sampling steps must be an integer >= 1, got {steps!r}")
    return steps


def sigmas_of_times(ts: torch.Tensor, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """The grid of VP times 1 >= t_0 > ... > t_N = 0: sigma_i = sigma_t / alpha_t = exp(-lambda(t_i) / 2), closed by 0."""
    schedule = schedule or CosineSchedule()
    return torch.cat([torch.exp(-0.5 * schedule.logsnr(ts[:-1])), torch.zeros(1, dtype=torch.float64)])


def times_of(sigmas: torch.Tensor, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """The VP times of a grid's noise levels, t = t(lambda) with lambda = -2 log sigma (sigma = 0 is t = 0): what a VP
    sampler evaluates its denoiser at."""
    schedule = schedule or CosineSchedule()
    logsnr = (-2.0 * torch.log(torch.as_tensor(sigmas, dtype=torch.float64))).clamp(schedule.logsnr_min,
                                                                                     schedule.logsnr_max)
    return schedule.t_from_logsnr(logsnr).clamp(0.0, 1.0)


def closed(sigmas: torch.Tensor) -> torch.Tensor:
    """A solver's noise levels sigma_0 > ... > sigma_min closed by 0: the grid form the samplers take."""
    return torch.cat([torch.as_tensor(sigmas, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])


@register_grid("uniform")
def uniform(steps: int, schedule: CosineSchedule | None = None, sigma_min: float | None = None,
            sigma_max: float | None = None) -> torch.Tensor:
    """Uniform in VP time: t_i = i / N for i = N..0; with sigma_min and sigma_max (both or neither), t_i = window(i / N)
    in the window of times of those levels (distill.core.time_window: a diffusers teacher's trained levels, where
    PD's and guided distillation's students of it are trained), still closed by 0."""
    if (sigma_min is None) != (sigma_max is None):
        raise ValueError("the uniform grid takes sigma_min and sigma_max together (a window of levels), or neither")
    u = torch.linspace(1.0, 0.0, check_steps(steps) + 1, dtype=torch.float64)
    if sigma_min is None:
        return sigmas_of_times(u, schedule)
    _edm_range(schedule or CosineSchedule(), sigma_min, sigma_max)
    return sigmas_of_times(TimeWindow.of_sigmas(sigma_min, sigma_max, schedule)(u), schedule)


@register_grid("logsnr")
def logsnr_uniform(steps: int, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """Equal steps in log-SNR from lambda(t=1) to lambda(t=0) (the schedule's clipping range)."""
    schedule = schedule or CosineSchedule()
    lam = torch.linspace(schedule.logsnr_min, schedule.logsnr_max, check_steps(steps) + 1, dtype=torch.float64)
    ts = schedule.t_from_logsnr(lam).clamp(0.0, 1.0)
    ts[0], ts[-1] = 1.0, 0.0
    return sigmas_of_times(ts, schedule)


@register_grid("edm")
def edm_polynomial(steps: int, schedule: CosineSchedule | None = None, rho: float = 7.0, sigma_min: float = 0.002,
                   sigma_max: float = 80.0) -> torch.Tensor:
    """EDM Eq. 5 (defaults: EDM's rho = 7, sigma in [0.002, 80]); one step evaluates at sigma_max only."""
    schedule = schedule or CosineSchedule()
    n = check_steps(steps)
    if rho <= 0:
        raise ValueError(f"edm grid needs rho > 0, got {rho}")
    _edm_range(schedule, sigma_min, sigma_max)
    i = torch.arange(n, dtype=torch.float64)
    frac = i / (n - 1) if n > 1 else i
    return closed((sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho)


def _edm_range(schedule: CosineSchedule, sigma_min: float, sigma_max: float) -> None:
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"an EDM sigma range needs 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    low, high = math.exp(-0.5 * schedule.logsnr_max), math.exp(-0.5 * schedule.logsnr_min)
    if sigma_min < low or sigma_max > high:  # the schedule's log-SNR clipping would move them silently
        raise ValueError(f"sigma_min {sigma_min} and sigma_max {sigma_max} must lie in the schedule's range "
                         f"[{low:.3g}, {high:.3g}]")


def sigma_range_problems(where: str, settings: dict, schedule: CosineSchedule | None = None,
                         keys: tuple[str, ...] = ("sigma_min", "sigma_max")) -> list[tuple[str, str]]:
    """check-params' checks of a params.yaml section that sets a sigma range (`where`: its key path): sigma_min below
    sigma_max, both above 0, and, given the teacher's schedule, both inside its range (its log-SNR clipping would
    move them silently); any further `keys` (DisBack's sigma_init) inside the schedule's range too."""
    out = []
    lo, hi = settings.get("sigma_min"), settings.get("sigma_max")
    if lo is not None and hi is not None and not 0 < lo < hi:
        out.append((f"{where}.sigma_min", f"{lo} must lie above 0 and below {where}.sigma_max ({hi})"))
    if schedule is not None:
        low, high = math.exp(-0.5 * schedule.logsnr_max), math.exp(-0.5 * schedule.logsnr_min)
        for key in keys:
            value = settings.get(key)
            if value is not None and not low <= value <= high:
                out.append((f"{where}.{key}", f"{value} lies outside the teacher's sigma range [{low:.3g}, "
                                              f"{high:.3g}] (its schedule's log-SNR range)"))
    return out


@register_grid("edm_logsnr")
def edm_logsnr(steps: int, schedule: CosineSchedule | None = None, sigma_min: float = 0.002,
               sigma_max: float = 80.0) -> torch.Tensor:
    """The official solvers' 'logsnr' schedule (N states, then 0): sigma_i uniform in log sigma (= -log-SNR / 2) from
    sigma_max to sigma_min (sfd-main/solver_utils.py `get_schedule`, schedule_type 'logsnr'; the diff-solvers README
    runs DPM-Solver++ and UniPC on it)."""
    schedule = schedule or CosineSchedule()
    n = check_steps(steps)
    _edm_range(schedule, sigma_min, sigma_max)
    frac = torch.arange(n, dtype=torch.float64) / (n - 1) if n > 1 else torch.zeros(1, dtype=torch.float64)
    return closed(torch.exp(math.log(sigma_max) + frac * (math.log(sigma_min) - math.log(sigma_max))))


def from_sigmas(sigmas, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """A given sigma-form schedule sigma_0 > ... > sigma_{n-1} > 0 (one GITS found), checked, as a grid (closed by 0)."""
    schedule = schedule or CosineSchedule()
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    if sigmas.ndim != 1 or len(sigmas) < 2 or not (sigmas[:-1] > sigmas[1:]).all() or not (sigmas > 0).all():
        raise ValueError(f"a schedule needs at least 2 strictly decreasing positive sigmas, got {sigmas.tolist()}")
    logsnr = -2.0 * torch.log(sigmas)
    if logsnr.min() < schedule.logsnr_min or logsnr.max() > schedule.logsnr_max:
        raise ValueError(f"schedule sigmas {sigmas.tolist()} leave the schedule's log-SNR range")
    return closed(sigmas)


def grid_options(name: str) -> list[str]:
    """The options a named grid takes (its keyword arguments besides steps and schedule)."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; expected one of {sorted(GRIDS)}")
    return [p for p in inspect.signature(GRIDS[name]).parameters if p not in ("steps", "schedule")]


def make_grid(name: str, steps: int, schedule: CosineSchedule | None = None, **options) -> torch.Tensor:
    """The named grid of `steps` steps; a clear error for an unknown name or option."""
    takes = grid_options(name)
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ValueError(f"grid {name!r} takes no option {', '.join(unknown)}; its options: {takes or 'none'}")
    sigmas = GRIDS[name](steps, schedule, **options)
    if not (sigmas[:-1] > sigmas[1:]).all() or sigmas[-1] != 0 or not math.isfinite(float(sigmas.sum())):
        raise ValueError(f"grid {name!r} with {steps} steps is not strictly decreasing to 0")
    return sigmas
