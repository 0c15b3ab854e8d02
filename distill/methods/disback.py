"""Score distillation of a one-step generator, with and without DisBack's backtracking (Zhang et al., ICLR 2025).

The core both share (DMD2's EDM form, which DisBack's code copies: tianweiy/DMD2 and SYZhang0805/DisBack,
main/edm/edm_guidance.py; EDM's notation, x_sigma = x + sigma eps, D the denoiser of the sigma form):

- Generator: one step of a network initialised from the teacher, G(z) = D_G(sigma_init z; sigma_init)
  (train_edm.py: `scaled_noise = randn * conditioning_sigma`, the network called at that sigma).
- Generator loss (DMD's score difference, normalised): on x = G(z), x_t = x + sigma eps with sigma drawn from the
  [min_step, max_step] part of a Karras grid, p_real = x - D_real(x_t), p_fake = x - D_fake(x_t),
  grad = (p_real - p_fake) / mean|p_real| (the mean per sample), loss = 0.5 MSE(x, stopgrad(x - grad)), whose
  gradient with respect to x is grad / numel (compute_distribution_matching_loss).
- Fake score: denoising on the generator's samples (detached), sigma over the whole grid, EDM's weighting
  sigma^-2 + sigma_data^-2 (compute_loss_fake); it tracks the generator's distribution.
- One training step (train_edm.py, train_one_step): draw z and x = G(z); every `fake_updates`-th step one generator
  update; then one fake-score update on the same (detached) x.

DisBack adds a path: stage 1 fine-tunes a copy of the teacher on the *initial* generator's samples (the fake-score
loss, Eq. 7), saving N + 1 nodes (node 0 = the teacher); stage 2 starts the fake score at node N and walks the
generator's "real" score back along the nodes, ending at the teacher (`target_node`). Without a path (the baseline,
DMD / Diff-Instruct without backtracking) the real score is the teacher throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from distill.core.denoiser import Cond
from distill.core.distributed import global_batch, local_rows
from distill.core.grids import make_grid
from distill.core.schedule import CosineSchedule
from distill.core.sigma_solvers import generator_input_scale
from distill.core.training import StepContext, StepFn
from distill.core.weighting import loss_weight

SigmaDenoiser = Callable[[torch.Tensor, torch.Tensor, Cond], torch.Tensor]  # D(x, sigma, cond) -> x-hat
SWITCH_RULES = ("paper", "code")
GRIDS = ("edm", "teacher")
FAKE_WEIGHTINGS = ("edm", "snr")  # distill/core/weighting.py: snr is the epsilon-MSE


@dataclass(frozen=True)
class ScoreDistillation:
    """The core's settings (defaults: main/edm of DMD2 and DisBack: Karras grid of 1000 sigmas in [0.002, 80],
    rho 7, sigma_data 0.5, generator sigmas in [0.02, 0.98] of the grid, one fake update per step).

    The SD/SDXL path of the same code (main/sd_guidance.py, main/sd_unified_model.py) differs in four settings:
    grid `teacher` (the teacher's own 1000 training levels, sigma_t = sqrt((1 - alpha-bar_t) / alpha-bar_t), for the
    scheduler's integer timesteps), `init_timestep` (the generator reads unit noise as the state at that timestep,
    the conditioning timestep 399 of the released SDXL scripts), `fake_weighting` snr (the fake score's
    epsilon-MSE, sigma^-2 in the sigma form) and `real_guidance` (the real score guided with weight w; DMD2's
    real_guidance_scale = 1 + w, the fake score unguided)."""

    sigma_init: float = 80.0  # unpublished for DisBack: EDM's sigma_max, DMD2's conditioning_sigma
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    grid_points: int = 1000  # num_train_timesteps
    min_step_percent: float = 0.02
    max_step_percent: float = 0.98
    sigma_data: float = 0.5
    fake_updates: int = 1  # dfake_gen_update_ratio: fake-score updates per generator update
    grid: str = "edm"  # or "teacher": the teacher's own training levels (a diffusers teacher)
    init_timestep: int | None = None  # grid "teacher": the generator's conditioning timestep (VP input)
    fake_weighting: str = "edm"  # or "snr": the fake score's epsilon-MSE (sd_guidance.py compute_loss_fake)
    real_guidance: float = 0.0  # w of the real score's classifier-free guidance (0: unguided)

    @classmethod
    def from_params(cls, section: Mapping[str, Any]) -> "ScoreDistillation":
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})

    def __post_init__(self) -> None:
        if not 0 <= self.min_step_percent < self.max_step_percent <= 1:
            raise ValueError(f"need 0 <= min_step_percent < max_step_percent <= 1, got {self.min_step_percent}, "
                             f"{self.max_step_percent}")
        for name in ("sigma_init", "sigma_data", "grid_points", "fake_updates"):
            if getattr(self, name) <= 0:
                raise ValueError(f"score distillation: {name} must be positive, got {getattr(self, name)}")
        for name, value, allowed in (("grid", self.grid, GRIDS),
                                     ("fake_weighting", self.fake_weighting, FAKE_WEIGHTINGS)):
            if value not in allowed:
                raise ValueError(f"score distillation: {name} must be one of {allowed}, got {value!r}")
        if (self.init_timestep is not None) != (self.grid == "teacher"):
            raise ValueError("score distillation: init_timestep (the generator's conditioning timestep) goes with grid "
                             f"'teacher' and only with it; got grid {self.grid!r}, init_timestep {self.init_timestep}")
        if self.init_timestep is not None and not 0 <= self.init_timestep < self.grid_points:
            raise ValueError(f"score distillation: init_timestep must lie in [0, grid_points), got "
                             f"{self.init_timestep}")
        if not self.real_guidance >= 0:
            raise ValueError(f"score distillation: real_guidance (w) must be >= 0, got {self.real_guidance}")

    def sigmas(self, schedule: CosineSchedule | None = None, levels: torch.Tensor | None = None) -> torch.Tensor:
        """The grid, small sigma first (edm_guidance.py flips the Karras grid so), float64: the Karras grid, or
        (grid `teacher`) the teacher's own `levels`, sigma of timesteps 0 .. grid_points - 1."""
        if self.grid == "teacher":
            if levels is None or len(levels) != self.grid_points:
                raise ValueError(f"score distillation on grid 'teacher' needs the teacher's {self.grid_points} "
                                 "training levels (a diffusers teacher's); got "
                                 f"{'none' if levels is None else len(levels)}")
            return torch.as_tensor(levels, dtype=torch.float64)
        grid = make_grid("edm", self.grid_points, schedule, rho=self.rho, sigma_min=self.sigma_min,
                         sigma_max=self.sigma_max)
        return grid[:-1].flip(0)  # the closing 0 left out

    def initial_sigma(self, levels: torch.Tensor | None = None) -> float:
        """The generator's sigma: sigma_init, or the level of init_timestep on the teacher's grid."""
        return self.sigma_init if self.init_timestep is None else float(self.sigmas(levels=levels)[self.init_timestep])

    @property
    def vp_input(self) -> bool:
        """The generator reads unit noise as the VP state at its sigma (the SD path) rather than sigma z."""
        return self.init_timestep is not None

    def generator_range(self) -> tuple[int, int]:
        """Grid indices the generator loss draws from: [int(min% n), min(int(max% n), n - 1)] inclusive."""
        n = self.grid_points
        return int(self.min_step_percent * n), min(int(self.max_step_percent * n), n - 1)


def generate(gen_d: SigmaDenoiser, z: torch.Tensor, sigma_init: float, cond: Cond = None,
             vp_input: bool = False) -> torch.Tensor:
    """The one-step generator: G(z) = D_G(c z; sigma_init), z ~ N(0, I), c = sigma_init, or sqrt(1 + sigma_init^2)
    with `vp_input` (z as the VP state at sigma_init; sd_unified_model.py feeds the noise at its conditioning
    timestep so)."""
    scale = float(generator_input_scale(sigma_init, vp_input))
    return gen_d(scale * z, torch.full((z.shape[0],), sigma_init, dtype=torch.float64), cond)


def draw_sigmas(sigmas: torch.Tensor, n: int, lo: int, hi: int, gen: torch.Generator) -> torch.Tensor:
    """n sigmas of the grid, indices uniform in [lo, hi] (drawn for the whole batch; a rank keeps its rows)."""
    return local_rows(sigmas[torch.randint(lo, hi + 1, (n,), generator=gen)])


def noised(x: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """x_sigma = x + sigma eps, eps drawn for the whole batch on the CPU generator."""
    eps = local_rows(torch.randn((global_batch(x.shape[0]), *x.shape[1:]), generator=gen)).to(x)
    return x + sigma.to(x).reshape(-1, *([1] * (x.ndim - 1))) * eps


def score_difference(x: torch.Tensor, real_x_hat: torch.Tensor, fake_x_hat: torch.Tensor) -> torch.Tensor:
    """DMD2's normalised gradient: (p_real - p_fake) / mean|p_real| per sample, p = x - D(x_t); non-finite entries
    zeroed (edm_guidance.py, `torch.nan_to_num`). p_real - p_fake = D_fake - D_real = sigma^2 (s_fake - s_real)."""
    p_real, p_fake = x - real_x_hat, x - fake_x_hat
    scale = p_real.abs().flatten(1).mean(dim=1).reshape(-1, *([1] * (x.ndim - 1)))
    return torch.nan_to_num((p_real - p_fake) / scale)


def generator_loss(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """0.5 MSE(x, stopgrad(x - grad)): its gradient with respect to x is grad / x.numel()."""
    return 0.5 * F.mse_loss(x, (x - grad).detach(), reduction="mean")


def denoising_loss(d: SigmaDenoiser, x: torch.Tensor, sigmas: torch.Tensor, sigma_data: float, gen: torch.Generator,
                   cond: Cond = None, weighting: str = "edm") -> torch.Tensor:
    """mean(w(sigma) (D(x + sigma eps; sigma) - x)^2), sigma uniform over the grid: the fake score's loss (DisBack
    Eq. 5) and stage 1's (Eq. 7), on generated x (detached); w = sigma^-2 + sigma_data^-2 (edm, edm_guidance.py) or
    sigma^-2 (snr: the epsilon-MSE of sd_guidance.py, ||eps-hat - eps||^2 = ||D - x||^2 / sigma^2)."""
    x = x.detach()
    sigma = draw_sigmas(sigmas, global_batch(x.shape[0]), 0, len(sigmas) - 1, gen)
    x_hat = d(noised(x, sigma, gen), sigma, cond)
    weight = loss_weight(weighting, -2.0 * torch.log(sigma), sigma_data).to(x).reshape(-1, *([1] * (x.ndim - 1)))
    return (weight * (x_hat - x).pow(2)).mean()


def matching_loss(x: torch.Tensor, real_d: SigmaDenoiser, fake_d: SigmaDenoiser, sigmas: torch.Tensor,
                  lo: int, hi: int, gen: torch.Generator, cond: Cond = None) -> torch.Tensor:
    """The generator's loss on its samples x (with their graph): the score difference at one noised copy."""
    sigma = draw_sigmas(sigmas, global_batch(x.shape[0]), lo, hi, gen)
    with torch.no_grad():
        x_t = noised(x.detach(), sigma, gen)
        grad = score_difference(x.detach(), real_d(x_t, sigma, cond), fake_d(x_t, sigma, cond))
    return generator_loss(x, grad)


def target_node(step: int, nodes: int, interval: int, rule: str = "paper", path_interval: int = 1) -> int:
    """The path node the generator's real score is at, for stage-2 step `step` (0-based) of a path of `nodes` + 1
    nodes (0 = the teacher, `nodes` = the initial generator's score).

    paper: the fake score starts at node N and the target walks N - 1, N - 2, ..., 0, one node per `interval`
      steps, then stays at the teacher (the README's Algorithm, `idx % interval == 0`).
    code: train_sd.py's loop: at every multiple of `interval`, step back one node while the node's own step number
      in stage 1 (node x `path_interval`) is >= the current step; the first switch is always made, later ones only
      while stage 1's step count runs ahead of stage 2's (with the SDXL script's 100-step path and 1000-step
      interval, only the first)."""
    if nodes < 1 or interval < 1 or step < 0:
        raise ValueError(f"target_node needs nodes >= 1, interval >= 1 and step >= 0; got {nodes}, {interval}, {step}")
    if rule == "paper":
        return max(nodes - 1 - step // interval, 0)
    if rule == "code":
        node = nodes
        for boundary in range(0, step + 1, interval):
            if node * path_interval >= boundary and node > 0:
                node -= 1
        return node
    raise ValueError(f"unknown switching rule {rule!r}; expected one of {SWITCH_RULES}")


def score_distillation_step(core: ScoreDistillation, gen_d: SigmaDenoiser, fake_d: SigmaDenoiser,
                            real_d: Callable[[int], SigmaDenoiser], shape: tuple[int, ...], batch_size: int,
                            device: torch.device | str, cond_of: Callable[[torch.Generator], Cond] = lambda g: None,
                            schedule: CosineSchedule | None = None, levels: torch.Tensor | None = None) -> StepFn:
    """The training step of parts 'generator' and 'fake_score' (train_edm.py, train_one_step): z and x = G(z);
    on every `fake_updates`-th step a generator update against `real_d(step)` (the teacher, or DisBack's current
    path node) and the current fake score; then one fake-score update on the same x, detached."""
    sigmas = core.sigmas(schedule, levels)
    lo, hi = core.generator_range()
    sigma_init = core.initial_sigma(levels)

    def step_fn(ctx: StepContext) -> dict[str, torch.Tensor]:
        cond = cond_of(ctx.gen)
        z = local_rows(torch.randn((batch_size, *shape), generator=ctx.gen)).to(device)
        generator_turn = ctx.step % core.fake_updates == 0
        with torch.set_grad_enabled(generator_turn and torch.is_grad_enabled()):
            x = generate(gen_d, z, sigma_init, cond, core.vp_input)
        losses = {}
        if generator_turn:
            losses["loss_generator"] = matching_loss(x, real_d(ctx.step), fake_d, sigmas, lo, hi, ctx.gen, cond)
            ctx.update("generator", losses["loss_generator"])
        losses["loss_fake_score"] = denoising_loss(fake_d, x, sigmas, core.sigma_data, ctx.gen, cond,
                                                   core.fake_weighting)
        ctx.update("fake_score", losses["loss_fake_score"])
        ctx.count_images(batch_size)
        return losses

    return step_fn


def degradation_step(core: ScoreDistillation, gen_d: SigmaDenoiser, score_d: SigmaDenoiser, shape: tuple[int, ...],
                     batch_size: int, device: torch.device | str,
                     cond_of: Callable[[torch.Generator], Cond] = lambda g: None,
                     schedule: CosineSchedule | None = None, levels: torch.Tensor | None = None) -> StepFn:
    """Stage 1's step (part 'score'): the fixed initial generator's samples, the fake-score loss on a copy of the
    teacher (DisBack Eq. 7; degradation.py trains only the guidance network, the generator stays fixed)."""
    sigmas = core.sigmas(schedule, levels)
    sigma_init = core.initial_sigma(levels)

    def step_fn(ctx: StepContext) -> dict[str, torch.Tensor]:
        cond = cond_of(ctx.gen)
        z = local_rows(torch.randn((batch_size, *shape), generator=ctx.gen)).to(device)
        with torch.no_grad():
            x = generate(gen_d, z, sigma_init, cond, core.vp_input)
        loss = denoising_loss(score_d, x, sigmas, core.sigma_data, ctx.gen, cond, core.fake_weighting)
        ctx.update("score", loss)
        ctx.count_images(batch_size)
        return {"loss": loss}

    return step_fn
