"""Time grids by name: the sampler's times t_0 = 1 > t_1 > ... > t_N = 0 in variance-preserving time, for any N >= 1.

A sampler of N steps evaluates its denoiser at t_0 .. t_{N-1} and returns x-hat at t_{N-1} (the official PD code);
t_N = 0 closes the grid. Grids are small functions `grid(steps, schedule, **options) -> Tensor[N + 1]` (float64) in
the registry GRIDS, so a sampler, a CLI flag or a params.yaml key names one:
  - uniform: t_i = 1 - i/N (PD, DDIM);
  - logsnr: uniform in log-SNR lambda between lambda(1) and lambda(0) (DPM-Solver's 'logSNR' spacing, used by SFD);
  - edm: EDM's polynomial sigma grid (Karras et al. 2022, Eq. 5), sigma_i = (s_max^(1/rho) + i/(N-1)
    (s_min^(1/rho) - s_max^(1/rho)))^rho for i < N, mapped to VP time through sigma = sigma_t / alpha_t;
  - edm_logsnr: the official solvers' 'logsnr' schedule on the same convention, sigma_i uniform in log sigma.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from distill.core.schedule import CosineSchedule

Grid = Callable[..., torch.Tensor]
GRIDS: dict[str, Grid] = {}


def register_grid(name: str) -> Callable[[Grid], Grid]:
    def add(fn: Grid) -> Grid:
        if name in GRIDS:
            raise ValueError(f"time grid {name!r} is registered twice")
        GRIDS[name] = fn
        return fn
    return add


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"number of sampling steps must be an integer >= 1, got {steps!r}")
    return steps


@register_grid("uniform")
def uniform(steps: int, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """t_i = i / N for i = N..0."""
    return torch.linspace(1.0, 0.0, check_steps(steps) + 1, dtype=torch.float64)


@register_grid("logsnr")
def logsnr_uniform(steps: int, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """Equal steps in log-SNR from lambda(t=1) to lambda(t=0) (the schedule's clipping range)."""
    schedule = schedule or CosineSchedule()
    lam = torch.linspace(schedule.logsnr_min, schedule.logsnr_max, check_steps(steps) + 1, dtype=torch.float64)
    ts = schedule.t_from_logsnr(lam).clamp(0.0, 1.0)
    ts[0], ts[-1] = 1.0, 0.0
    return ts


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
    sigmas = (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    logsnr = (-2.0 * torch.log(sigmas)).clamp(schedule.logsnr_min, schedule.logsnr_max)  # sigma = sigma_t / alpha_t
    return torch.cat([schedule.t_from_logsnr(logsnr).clamp(0.0, 1.0), torch.zeros(1, dtype=torch.float64)])


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
    """The official solvers' 'logsnr' schedule in the `edm` grid's convention (N states, then t = 0): sigma_i
    uniform in log sigma (= -log-SNR / 2) from sigma_max to sigma_min (sfd-main/solver_utils.py `get_schedule`,
    schedule_type 'logsnr'; the diff-solvers README runs DPM-Solver++ and UniPC on it)."""
    schedule = schedule or CosineSchedule()
    n = check_steps(steps)
    _edm_range(schedule, sigma_min, sigma_max)
    frac = torch.arange(n, dtype=torch.float64) / (n - 1) if n > 1 else torch.zeros(1, dtype=torch.float64)
    logsnr = 2.0 * (-math.log(sigma_max) + frac * (math.log(sigma_max) - math.log(sigma_min)))
    return torch.cat([schedule.t_from_logsnr(logsnr).clamp(0.0, 1.0), torch.zeros(1, dtype=torch.float64)])


def from_sigmas(sigmas, schedule: CosineSchedule | None = None) -> torch.Tensor:
    """A given sigma-form schedule sigma_0 > ... > sigma_{n-1} > 0 (one GITS found) as VP times closed by t = 0, the
    form the samplers take (the sigma-form solvers recover the same sigmas)."""
    schedule = schedule or CosineSchedule()
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    if sigmas.ndim != 1 or len(sigmas) < 2 or not (sigmas[:-1] > sigmas[1:]).all() or not (sigmas > 0).all():
        raise ValueError(f"a schedule needs at least 2 strictly decreasing positive sigmas, got {sigmas.tolist()}")
    logsnr = -2.0 * torch.log(sigmas)
    if logsnr.min() < schedule.logsnr_min or logsnr.max() > schedule.logsnr_max:
        raise ValueError(f"schedule sigmas {sigmas.tolist()} leave the schedule's log-SNR range")
    return torch.cat([schedule.t_from_logsnr(logsnr).clamp(0.0, 1.0), torch.zeros(1, dtype=torch.float64)])


def grid_options(name: str) -> list[str]:
    """The options a named grid takes (its keyword arguments besides steps and schedule)."""
    import inspect

    if name not in GRIDS:
        raise ValueError(f"unknown time grid {name!r}; expected one of {sorted(GRIDS)}")
    return [p for p in inspect.signature(GRIDS[name]).parameters if p not in ("steps", "schedule")]


def make_grid(name: str, steps: int, schedule: CosineSchedule | None = None, **options) -> torch.Tensor:
    """The named grid of `steps` steps; a clear error for an unknown name or option."""
    takes = grid_options(name)
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ValueError(f"time grid {name!r} takes no option {', '.join(unknown)}; its options: {takes or 'none'}")
    ts = GRIDS[name](steps, schedule, **options)
    if not (ts[:-1] > ts[1:]).all() or ts[0] > 1 or ts[-1] != 0 or not math.isfinite(float(ts.sum())):
        raise ValueError(f"time grid {name!r} with {steps} steps is not strictly decreasing from <= 1 to 0")
    return ts
