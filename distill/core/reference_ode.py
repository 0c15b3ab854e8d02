"""How far each sigma-form solver lands from the exact trajectory: a reference solution of the probability-flow ODE
by SciPy's DOP853 (an adaptive 8th-order Runge-Kutta) at tight tolerances, in log sigma, where the ODE reads
dx / d(log sigma) = x - D(x; sigma) (EDM Eq. 4 with sigma(t) = t, times sigma), from the same start state as the
solvers (x_0 = sigma_max z) to sigma_min."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp

from distill.core.denoiser import Cond, Denoiser, SigmaFormDenoiser
from distill.core.grids import make_grid
from distill.core.sampler_registry import get_sampler
from distill.core.schedule import CosineSchedule
from distill.core.seeding import SeededNoise


def reference_solution(denoise: Denoiser, z: torch.Tensor, sigma_max: float, sigma_min: float,
                       schedule: CosineSchedule | None = None, cond: Cond = None,
                       tol: float | None = None) -> torch.Tensor:
    """x at sigma_min of the trajectory that starts at x = sigma_max z, computed in z's dtype, to relative and absolute
    tolerance `tol` (default: 1e-9 in float64; 1e-5 in float32, whose rounding a tighter one would chase); x-hat not
    clipped: the ODE itself."""
    if tol is None:
        tol = 1e-9 if z.dtype == torch.float64 else 1e-5

    form = SigmaFormDenoiser(denoise, schedule or CosineSchedule())
    shape = z.shape

    def rhs(log_sigma: float, y: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(y).reshape(shape).to(z.dtype)
        with torch.no_grad():
            x_hat = form(x, torch.tensor(math.exp(log_sigma), dtype=torch.float64), cond)
        return (x - x_hat).reshape(-1).double().numpy()

    start = (z.double() * sigma_max).reshape(-1).numpy()
    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), start, method="DOP853", rtol=tol, atol=tol)
    if not sol.success:
        raise RuntimeError(f"the reference ODE solution failed: {sol.message}")
    return torch.from_numpy(sol.y[:, -1]).reshape(shape)


def steps_for(name: str, nfe: int, options: Mapping[str, Any]) -> int | None:
    """The num_steps at which the solver makes exactly `nfe` evaluations with these options; None if none does."""
    spec = get_sampler(name)
    for n in range(2, nfe + 3):
        if spec.nfe(n, options) == nfe:
            return n
    return None


def solver_distances(denoise: Denoiser, shape: tuple[int, ...], seeds: list[int], solvers: Iterable[tuple[str, dict]],
                     nfes: Iterable[int], sigma_max: float = 80.0, sigma_min: float = 0.002, rho: float = 7.0,
                     schedule: CosineSchedule | None = None, cond: Cond = None,
                     dtype: torch.dtype = torch.float32) -> list[dict[str, Any]]:
    """For each solver (name, options) and NFE: its num_steps on the edm grid, and the root-mean-square distance of
    its end state from the reference solution, per image, averaged over the seeds' images (SFD's sampling range and
    rho by default), in `dtype` (a network's: float32). A solver that cannot make exactly that NFE gets a row without a
    distance."""
    schedule = schedule or CosineSchedule()
    z = SeededNoise(seeds).randn(*shape, dtype=dtype)
    reference = reference_solution(denoise, z, sigma_max, sigma_min, schedule, cond)
    rows = []
    for name, options in solvers:
        spec = get_sampler(name)
        # the reference solves the ODE of the unclipped denoiser: a solver is measured unclipped unless told otherwise
        options = spec.check_options({**({"clip": "none"} if spec.clips_itself else {}), **dict(options)})
        for nfe in nfes:
            n = steps_for(name, nfe, options)
            row = {"solver": name, "options": ",".join(f"{k}={v}" for k, v in sorted(options.items())), "nfe": nfe,
                   "num_steps": n, "rms_distance": math.nan}
            if n is not None:
                grid = make_grid("edm", n, schedule, rho=rho, sigma_min=sigma_min, sigma_max=sigma_max)
                with torch.no_grad():
                    x = spec.fn(denoise, z, grid, cond, None, None, False, clip_x=False, schedule=schedule, **options)
                row["rms_distance"] = float((x - reference).flatten(1).pow(2).mean(1).sqrt().mean())
            rows.append(row)
    return rows
