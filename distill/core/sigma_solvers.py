"""EDM sigma-form ODE solvers: the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022,
Eq. 4 with sigma(t) = t), solved as SFD's official code solves it (zju-pi/diff-sampler, sfd-main/solvers.py and
sfd-main/solver_utils.py), for any suite denoiser through `SigmaFormDenoiser`, registered in SAMPLERS beside the VP
samplers with the one sampler signature.

Grid (distill.core.grids, SFD's states): a solver takes the n states sigma_0 > ... > sigma_{n-1} = sigma_min of a
grid, n - 1 steps, and returns the state x at sigma_min (no final denoising to 0). The suite's grids give N + 1 sigmas
closed by 0 for `steps` N; a solver takes the first N as its n states (the 0 only closes the grid), so `steps` is
SFD's `num_steps` and the `edm` grid is SFD's polynomial schedule. A solver's own function, solver(D, x, states,
on_step=...), takes the states alone (SFD's teacher and student, GITS), its registered sampler the grid. The start state is x_0 = sigma_0 z
(sfd-main/solvers.py: `latents * t_steps[0]`). NFE is each solver's `evaluations(n, options)`, not `steps`.

AFS, the analytical first step (SFD Sec. 3.3, `afs` in sfd-main/solvers.py): the first direction is taken as
d_0 = x / sqrt(1 + sigma_0^2), the direction of the data mean 0 at unit data variance, saving one evaluation.

Clipping of x-hat is each solver's own option `clip`, defaulting to what its official code does (sfd-main/solvers.py,
solver_utils.py): Euler, Heun, DPM-Solver-2 and iPNDM do not clip ('none'); DPM-Solver++ applies dynamic
thresholding to its data predictions ('dynamic': the 0.995 quantile of |x-hat| per sample, at least 1, clamps and
rescales, `dynamic_thresholding_fn`); 'clamp' clips to [-1, 1] as PD's samplers do. The sampling setting clip_x is the
VP samplers' (and the one-step generator's), not the solvers'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from distill.core.denoiser import Cond, Denoiser, SigmaFormDenoiser
from distill.core.sampler_registry import Option, register_sampler
from distill.core.schedule import CosineSchedule
from distill.core.seeding import SeededNoise

SigmaDenoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # D(x, sigma) -> x-hat
OnStep = Callable[[int, torch.Tensor], None] | None  # on_step(i, x): the state at sigmas[i + 1] after step i

AFS = Option(bool, help="analytical first step: d_0 = x / sqrt(1 + sigma_0^2) replaces the first evaluation")


def states_of(grid: torch.Tensor, sampler: str) -> torch.Tensor:
    """A grid's states sigma_0 > ... > sigma_min, its closing 0 left out: at least 2 (steps >= 2: one step from
    sigma_max to sigma_min)."""
    if len(grid) - 1 < 2:
        raise ValueError(f"the {sampler} sampler needs at least 2 grid states (steps >= 2: one step from sigma_max to "
                         f"sigma_min), got {len(grid) - 1}")
    return grid[:-1]


CLIPS = ("none", "clamp", "dynamic")
DYNAMIC_QUANTILE = 0.995  # sfd-main/solver_utils.py `dynamic_thresholding_fn`: p = 0.995


def dynamic_threshold(x_hat: torch.Tensor) -> torch.Tensor:
    """Dynamic thresholding (Saharia et al. 2022) as the official DPM-Solver++ applies it: s = max(1, the 0.995
    quantile of |x-hat| per sample), x-hat clamped to [-s, s] and divided by s (an image inside [-1, 1] is unchanged)."""
    flat = x_hat.abs().reshape(x_hat.shape[0], -1).to(torch.float32 if x_hat.dtype == torch.float16 else x_hat.dtype)
    s = torch.quantile(flat, DYNAMIC_QUANTILE, dim=1).clamp_min(1.0).to(x_hat.dtype)
    s = s.reshape(-1, *([1] * (x_hat.ndim - 1)))
    return torch.maximum(torch.minimum(x_hat, s), -s) / s


def clip_mode(clip: str | bool) -> str:
    """A clipping by name: 'none', 'clamp' or 'dynamic'; True is 'clamp', False 'none' (the VP samplers' clip_x)."""
    mode = ("clamp" if clip else "none") if isinstance(clip, bool) else clip
    if mode not in CLIPS:
        raise ValueError(f"unknown clipping {clip!r}; expected one of {list(CLIPS)}")
    return mode


def clip_x_hat(x_hat: torch.Tensor, clip: str | bool) -> torch.Tensor:
    """x-hat clipped by `clip_mode(clip)`: unchanged, clamped to [-1, 1], or `dynamic_threshold`."""
    mode = clip_mode(clip)
    if mode == "clamp":
        return x_hat.clamp(-1.0, 1.0)
    return dynamic_threshold(x_hat) if mode == "dynamic" else x_hat


def sigma_denoiser(denoise: Denoiser, schedule: CosineSchedule, cond: Cond, clip: str | bool) -> SigmaDenoiser:
    """D(x, sigma) of a suite denoiser, its x-hat clipped by `clip` (`clip_x_hat`)."""
    form, mode = SigmaFormDenoiser(denoise, schedule), clip_mode(clip)  # an unknown mode stops here

    def d(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return clip_x_hat(form(x, sigma, cond), mode)

    return d


def _report(on_step: OnStep, i: int, x: torch.Tensor) -> None:
    if on_step is not None:
        on_step(i, x)


def _direction(d: SigmaDenoiser, x: torch.Tensor, sigma: torch.Tensor, analytic: bool) -> torch.Tensor:
    """dx/dsigma at (x, sigma): (x - D(x; sigma)) / sigma, or AFS's x / sqrt(1 + sigma^2)."""
    if analytic:
        return x / torch.sqrt(1 + sigma**2).to(x.dtype)
    return (x - d(x, sigma)) / sigma.to(x.dtype)


def euler_step(d: SigmaDenoiser, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
               analytic: bool = False) -> torch.Tensor:
    """One Euler step from sigma to sigma_next (AFS's analytic direction when `analytic`)."""
    return x + (sigma_next - sigma).to(x.dtype) * _direction(d, x, sigma, analytic)


def euler(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, afs: bool = False, on_step: OnStep = None
          ) -> torch.Tensor:
    """Euler steps along sigma (= DDIM): x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_i."""
    for i in range(len(sigmas) - 1):
        x = euler_step(d, x, sigmas[i], sigmas[i + 1], afs and i == 0)
        _report(on_step, i, x)
    return x


def heun(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, afs: bool = False,
         on_step: OnStep = None) -> torch.Tensor:
    """Heun's second-order method (EDM Algorithm 1); every step ends at sigma_min > 0, so every step is corrected
    (sfd-main/solvers.py `heun_sampler`): 2 evaluations per step."""
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d_cur = _direction(d, x, s, afs and i == 0)
        x_euler = x + (s_next - s).to(x.dtype) * d_cur
        x = x + (s_next - s).to(x.dtype) * 0.5 * (d_cur + _direction(d, x_euler, s_next, False))
        _report(on_step, i, x)
    return x


def dpm2(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, afs: bool = False, r: float = 0.5,
         on_step: OnStep = None) -> torch.Tensor:
    """DPM-Solver-2 (Lu et al. 2022) in sigma: an Euler step to the geometric midpoint sigma_mid = sigma_next^r
    sigma^(1 - r), then the step with the midpoint's direction (sfd-main/solvers.py `dpm_2_sampler`)."""
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d_cur = _direction(d, x, s, afs and i == 0)
        s_mid = s_next**r * s ** (1 - r)
        d_mid = _direction(d, x + (s_mid - s).to(x.dtype) * d_cur, s_mid, False)
        x = x + (s_next - s).to(x.dtype) * ((1 / (2 * r)) * d_mid + (1 - 1 / (2 * r)) * d_cur)
        _report(on_step, i, x)
    return x


# iPNDM's Adams-Bashforth weights for the current and the previous directions (sfd-main/solvers.py `ipndm_sampler`)
IPNDM_WEIGHTS = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def ipndm(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, afs: bool = False, max_order: int = 4,
          on_step: OnStep = None) -> torch.Tensor:
    """Improved PNDM (Zhang & Chen 2023): multistep Adams-Bashforth on the directions, its order growing by one per
    step up to max_order (1-4)."""
    history: list[torch.Tensor] = []  # the directions so far, newest last
    for i in range(len(sigmas) - 1):
        history = (history + [_direction(d, x, sigmas[i], afs and i == 0)])[-max_order:]
        x = _ipndm_update(x, history, sigmas[i + 1] - sigmas[i], min(max_order, i + 1))
        _report(on_step, i, x)
    return x


def _ipndm_update(x: torch.Tensor, directions: list[torch.Tensor], h: torch.Tensor, order: int) -> torch.Tensor:
    """x + h * (the Adams-Bashforth combination of the last `order` directions, newest last)."""
    slope = sum(w * v for w, v in zip(IPNDM_WEIGHTS[order], reversed(directions[-order:])))
    return x + h.to(x.dtype) * slope


def dpmpp(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, afs: bool = False, max_order: int = 3,
          lower_order_final: bool = True, on_step: OnStep = None) -> torch.Tensor:
    """Multistep DPM-Solver++ (Lu et al. 2022b) in data prediction, lambda = -log sigma (sfd-main/solver_utils.py
    `dpm_pp_update`); the order grows to max_order (2 or 3) and, with lower_order_final, falls again over the last
    steps (order <= the steps left)."""
    n = len(sigmas)
    models: list[torch.Tensor] = []  # x-hat at the previous states, newest last
    for i in range(n - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d_cur = _direction(d, x, s, afs and i == 0)
        models = (models + [x - s.to(x.dtype) * d_cur])[-3:]  # x-hat = x - sigma d (exact x-hat when evaluated)
        order = (i + 1 if i + 1 < max_order else min(max_order, n - (i + 1))) if lower_order_final else \
            min(max_order, i + 1)
        x = _dpmpp_update(x, models, sigmas[max(0, i - 2):i + 1], s_next, order)
        _report(on_step, i, x)
    return x


def _dpmpp_update(x: torch.Tensor, models: list[torch.Tensor], prev: torch.Tensor, t: torch.Tensor,
                  order: int) -> torch.Tensor:
    """One DPM-Solver++ update from prev[-1] to t of the given order (sfd-main/solver_utils.py, VE formulation)."""
    lam = lambda s: -torch.log(s)  # noqa: E731
    h = lam(t) - lam(prev[-1])
    phi_1 = torch.expm1(-h)
    m0 = models[-1]
    ratio = (t / prev[-1]).to(x.dtype)
    if order == 1:
        return ratio * x - phi_1.to(x.dtype) * m0
    r0 = (lam(prev[-1]) - lam(prev[-2])) / h
    d1_0 = (m0 - models[-2]) / r0.to(x.dtype)
    if order == 2:
        return ratio * x - phi_1.to(x.dtype) * m0 - (0.5 * phi_1).to(x.dtype) * d1_0
    r1 = (lam(prev[-2]) - lam(prev[-3])) / h
    d1_1 = (models[-2] - models[-3]) / r1.to(x.dtype)
    d1 = d1_0 + (r0 / (r0 + r1)).to(x.dtype) * (d1_0 - d1_1)
    d2 = (d1_0 - d1_1) / (r0 + r1).to(x.dtype)
    phi_2 = phi_1 / h + 1.0
    phi_3 = phi_2 / h - 0.5
    return ratio * x - phi_1.to(x.dtype) * m0 + phi_2.to(x.dtype) * d1 - phi_3.to(x.dtype) * d2


def _adapter(solver: Callable[..., torch.Tensor], official_clip: str):
    """`solver(D, x, sigmas, **options)` as a registered sampler: the suite's signature and its grids; its x-hat
    clipped by its own option `clip` (default: `official_clip`), whatever the VP samplers' clip_x says."""

    def sample(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
               noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
               clip_x: bool = True, schedule: CosineSchedule | None = None, clip: str = official_clip,
               **options) -> torch.Tensor:
        states = states_of(sigmas, solver.__name__)
        d = sigma_denoiser(denoise, schedule or CosineSchedule(), cond, clip)
        return solver(d, z * states[0].to(z.dtype), states, on_step=on_step, **options)

    sample.__doc__ = solver.__doc__
    sample.__name__ = f"sample_{solver.__name__}"
    return sample


def _per_step(per_step: int) -> Callable[[int, dict], int]:
    """NFE of a solver with `per_step` evaluations on each of its n - 1 steps, one fewer with AFS."""
    return lambda n, options: per_step * (n - 1) - int(bool(options.get("afs")))


MAX_ORDER_PNDM = Option(int, 1, 4, "the highest multistep order (1-4; SFD: 4)")
MAX_ORDER_DPMPP = Option(int, 2, 3, "the highest multistep order (2 or 3; SFD's teacher: 3)")
LOWER_ORDER_FINAL = Option(bool, help="lower the order over the last steps (DPM-Solver++'s lower_order_final)")

# each solver's clipping in its official code (sfd-main/solvers.py: only dpm_pp_sampler thresholds, dynamically)
OFFICIAL_CLIP = {"euler": "none", "heun": "none", "dpm2": "none", "ipndm": "none", "dpmpp": "dynamic"}


def _clip_option(name: str) -> Option:
    return Option(str, help="x-hat clipping: none, clamp ([-1, 1]) or dynamic (thresholding at the 0.995 quantile); "
                            f"default {OFFICIAL_CLIP[name]!r}, as the official code", choices=CLIPS,
                  default=OFFICIAL_CLIP[name])


def _register(name: str, label: str, solver: Callable[..., torch.Tensor], per_step: int, **options: Option) -> None:
    register_sampler(name, label, evaluations=_per_step(per_step), solver=solver, afs=AFS, clip=_clip_option(name),
                     **options)(_adapter(solver, OFFICIAL_CLIP[name]))


_register("euler", "Euler", euler, 1)
_register("heun", "Heun", heun, 2)
_register("dpm2", "DPM-Solver-2", dpm2, 2)
_register("ipndm", "iPNDM", ipndm, 1, max_order=MAX_ORDER_PNDM)
_register("dpmpp", "DPM-Solver++", dpmpp, 1, max_order=MAX_ORDER_DPMPP, lower_order_final=LOWER_ORDER_FINAL)

def split_clip(solver: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A solver's clipping (its `clip` option, else its official one) and its other options, for code that calls a
    solver function (distill.core.sampler_registry.get_solver) on a grid of its own (SFD's teacher and student,
    GITS)."""
    rest = dict(options)
    clip = rest.pop("clip", OFFICIAL_CLIP[solver])
    if isinstance(clip, bool) or clip not in CLIPS:
        raise ValueError(f"solver {solver!r}: clip must be one of {list(CLIPS)}, got {clip!r}")
    return clip, rest


def generator_input_scale(sigma: torch.Tensor, vp: bool) -> torch.Tensor:
    """The factor of unit noise z that a one-step generator at sigma reads: sigma (ve) or sqrt(1 + sigma^2) (vp: z
    is z_t at sigma, and x = z_t / alpha_t with 1 / alpha_t = sqrt(1 + sigma^2))."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return torch.sqrt(1 + sigma ** 2) if vp else sigma


@register_sampler("onestep", "One step at sigma_max (DMD2)", evaluations=lambda steps, options: 1,
                  input=Option(str, choices=("ve", "vp"),
                               help="the generator's input: ve, sigma_0 z (DMD2's EDM path, the default); vp, the "
                                    "unit noise z as the VP state z_t at sigma_0 (DMD2's SD/SDXL path): "
                                    "sqrt(1 + sigma_0^2) z in the sigma form"))
def sample_onestep(denoise: Denoiser, z: torch.Tensor, sigmas: torch.Tensor, cond: Cond = None,
                   noise: SeededNoise | None = None, on_step: OnStep = None, progress: bool = False, *,
                   clip_x: bool = True, schedule: CosineSchedule | None = None, input: str | None = None
                   ) -> torch.Tensor:
    """A one-step generator's sample: x = D(c z; sigma_0) at the grid's only state sigma_0 (on the `edm` grid
    with one step, its sigma_max), c = sigma_0 (`input` ve) or sqrt(1 + sigma_0^2) (vp): DMD2's and DisBack's
    generator, fed noise scaled to its conditioning sigma (main/edm/train_edm.py) or unit noise as the state at its
    conditioning timestep (main/sd_unified_model.py), exactly as distill/methods/disback.py `generate` trains it.
    Not a solver: its x-hat is clipped by the sampling setting clip_x, as the VP samplers'."""
    if len(sigmas) != 2:
        raise ValueError(f"the onestep sampler takes steps: 1 (one state, sigma_max), got {len(sigmas) - 1} states")
    scale = generator_input_scale(sigmas[0], input == "vp")
    x = sigma_denoiser(denoise, schedule or CosineSchedule(), cond, clip_x)(z * scale.to(z.dtype), sigmas[0])
    if on_step is not None:
        on_step(0, x)
    return x
