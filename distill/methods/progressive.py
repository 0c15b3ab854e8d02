"""Progressive distillation (PD Algorithm 2): a student learns to match two DDIM steps of its teacher in one.

Time is discrete: a student of N steps is trained at t = i/N, i ~ Cat[1..N]; the highest index has t = 1, where the
clipped cosine schedule gives alpha_1 ~ 0 (SNR 0). The target is computed by `distillation_target`, a small function
of any teacher denoiser (trained, analytic or imported), and the loss is w(lambda_t) ||x~ - x-hat_theta(z_t)||^2.
"""

from __future__ import annotations

import torch

from distill.core.denoiser import Cond, Denoiser, NetworkDenoiser
from distill.core.distributed import global_batch, local_rows
from distill.core.samplers import ddim_step
from distill.core.schedule import CosineSchedule, broadcast_like
from distill.core.time_window import WHOLE, TimeWindow, window_of
from distill.core.weighting import loss_weight


def student_times(n_steps: int, batch_size: int, gen: torch.Generator, times_per_step: int = 1) -> torch.Tensor:
    """t = i/(kN) with i ~ Cat[1..kN] (float64), drawn on the CPU generator; k = `times_per_step`: 1 is PD's grid,
    2 adds the times halfway between (where the 2N-step stochastic sampler of guided distillation evaluates an
    N-step student)."""
    if isinstance(times_per_step, bool) or not isinstance(times_per_step, int) or times_per_step < 1:
        raise ValueError(f"times_per_step must be an integer >= 1, got {times_per_step!r}")
    k = n_steps * times_per_step
    return torch.randint(1, k + 1, (batch_size,), generator=gen).to(torch.float64) / k


def distillation_target(
    teacher: Denoiser, z_t: torch.Tensor, t: torch.Tensor, n_steps: int, cond: Cond = None,
    schedule: CosineSchedule | None = None, window: TimeWindow = WHOLE,
) -> torch.Tensor:
    """x~ such that one student DDIM step t -> t - 1/N lands where two teacher DDIM steps (t -> t' = t - 0.5/N ->
    t'' = t - 1/N) land (PD Alg. 2 and App. G):  x~ = (z_t'' - (sigma_t''/sigma_t) z_t) / (alpha_t'' - (sigma_t''/sigma_t)
    alpha_t). Where t'' = 0 (the student's last step, which returns x-hat) the target is the teacher's x-hat at t', as
    in the official code. The teacher's x-hat is not clipped. t: per-sample times on the grid i/N, i in 1..N, or,
    for a student that also serves the stochastic sampler, on the grid i/(2N): at t = 1/(2N) the jump of 1/N would
    pass 0, so the target is the teacher's own last step from t, its x-hat at t (both teacher times lie on the
    teacher's grid i/(2N) either way). t is read in the teacher's `window` of times (distill.core.time_window): the
    grid's times are window(i/N), and the student's last step lands on the clean data, t = 0."""
    schedule = schedule or CosineSchedule()
    u = torch.as_tensor(t, dtype=torch.float64).to(z_t.device)
    u_mid, u_end = (u - 0.5 / n_steps).clamp_min(0.0), (u - 1.0 / n_steps).clamp_min(0.0)
    t, t_mid, t_end = window(u), window(u_mid), window(u_end)

    def coefs(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha, sigma = schedule.alpha_sigma(u)
        return broadcast_like(alpha, z_t), broadcast_like(sigma, z_t)

    (a_t, s_t), (a_mid, s_mid), (a_end, s_end) = coefs(t), coefs(t_mid), coefs(t_end)
    x_t = teacher(z_t, t.to(z_t.dtype), cond)
    z_mid = ddim_step(x_t, z_t, a_t, s_t, a_mid, s_mid)
    x_mid = teacher(z_mid, t_mid.to(z_t.dtype), cond)
    z_end = ddim_step(x_mid, z_mid, a_mid, s_mid, a_end, s_end)
    ratio = s_end / s_t
    x_target = (z_end - ratio * z_t) / (a_end - ratio * a_t)  # PD App. G
    last = broadcast_like(u_end <= 0.0, z_t).bool()
    first = broadcast_like(u_mid <= 0.0, z_t).bool()  # t = 1/(2N): the teacher's last step is the whole jump
    return torch.where(first, x_t, torch.where(last, x_mid, x_target))


def draw_times_and_noise(x: torch.Tensor, n_steps: int, gen: torch.Generator,
                         times_per_step: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The student times t (`student_times`) and the noise eps of a batch x, drawn from `gen` for the whole batch (a
    rank of a data-parallel run keeps its rows)."""
    n = global_batch(x.shape[0])
    t = local_rows(student_times(n_steps, n, gen, times_per_step))
    eps = local_rows(torch.randn((n, *x.shape[1:]), generator=gen)).to(x.device)
    return t, eps


def loss_at(student: NetworkDenoiser, teacher: Denoiser, x: torch.Tensor, u: torch.Tensor, eps: torch.Tensor,
            n_steps: int, weighting: str, cond: Cond) -> torch.Tensor:
    """PD Algorithm 2's loss of a batch x at drawn grid times u and noise eps: the student's x-hat(z_t) against the
    target of the teacher's two DDIM steps (PD App. G), weighted by omega(lambda_t). Teacher and student see `cond`.
    The times are read in the student's window of trained levels (`window_of`: a diffusers network's; else t = u)."""
    window = window_of(student)
    t = window(u)
    alpha, sigma = student.schedule.alpha_sigma(t)
    z_t = broadcast_like(alpha, x) * x + broadcast_like(sigma, x) * eps
    with torch.no_grad():
        x_target = distillation_target(teacher, z_t, u, n_steps, cond, student.schedule, window)
    x_hat = student(z_t, t.to(x.dtype), cond)
    mse = (x_hat - x_target).pow(2).flatten(1).mean(dim=1)
    return (loss_weight(weighting, student.schedule.logsnr(t)).to(x.dtype).to(x.device) * mse).mean()


def distillation_loss(
    student: NetworkDenoiser, teacher: Denoiser, x: torch.Tensor, n_steps: int, weighting: str,
    gen: torch.Generator, cond: Cond = None, times_per_step: int = 1,
) -> torch.Tensor:
    """One Monte-Carlo estimate of PD Algorithm 2's loss for a batch x (times and noise drawn from `gen`) with its
    conditions `cond` (class labels, a prompt's, or none). `times_per_step` 2 trains the student at the times halfway
    between its own too (`student_times`)."""
    t, eps = draw_times_and_noise(x, n_steps, gen, times_per_step)
    return loss_at(student, teacher, x, t, eps, n_steps, weighting, cond)
