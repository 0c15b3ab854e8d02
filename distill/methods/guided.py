"""Guided distillation (Meng et al., CVPR 2023): its math, for any denoiser.

The teacher is classifier-free guided, x-hat^w = (1 + w) x-hat_c - w x-hat_null (distill.core.guidance), two network
evaluations per call: a class-conditional teacher with its null label (pixel space, `label_guide`), or a
text-to-image teacher with its unconditional prompt (latent space, `prompt_guide`). Stage one trains a
w-conditioned student to match it at all t (PUBLISHED.md 2(c)):

    min E_{w ~ U[w_min, w_max], t ~ U[0, 1], x ~ p_data} [ omega(lambda_t) || x-hat_eta1(z_t, c, w) - x-hat^w_theta(z_t, c) ||^2 ]

(omega, "a pre-specified weighting function", is not published: a setting). Stage two is PD (distill.methods.
progressive) with w kept as an input: `w_conditions` draws a w per sample for each batch, teacher and student see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import torch
from torch import nn

from distill.core.denoiser import Cond, Denoiser, NetworkDenoiser
from distill.core.distributed import global_batch, local_rows
from distill.core.guidance import GuidedDenoiser, PromptGuided
from distill.core.schedule import broadcast_like
from distill.core.time_window import window_of
from distill.core.weighting import loss_weight
from distill.methods import progressive
from distill.methods.batches import Batches

W = "w"  # the students' scalar condition: the guidance weight
Guide = Callable[[Denoiser, torch.Tensor], Denoiser]  # (teacher, w per sample) -> the guided teacher


def label_guide(null_label: int) -> Guide:
    """Classifier-free guidance of a class-conditional teacher trained with a null label."""
    return lambda teacher, w: GuidedDenoiser(teacher, w, null_label)


def prompt_guide(null: Mapping[str, torch.Tensor]) -> Guide:
    """Classifier-free guidance of a text-to-image teacher: `null` the unconditional prompt's conditions
    (distill/nets/diffusers_text.py `PromptEncoder.null`)."""
    return lambda teacher, w: PromptGuided(teacher, w, null)


def check_w_range(w_range: tuple[float, float]) -> tuple[float, float]:
    """[w_min, w_max] with 0 <= w_min <= w_max (w_min = w_max: a fixed-w student)."""
    lo, hi = (float(v) for v in w_range)
    if not (0.0 <= lo <= hi < float("inf")):
        raise ValueError(f"guidance range [w_min, w_max] must satisfy 0 <= w_min <= w_max < inf, got {list(w_range)}")
    return lo, hi


def draw_w(n: int, w_range: tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    """w ~ U[w_min, w_max] for n samples (float32), drawn on the CPU generator."""
    lo, hi = check_w_range(w_range)
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def w_conditions(w_range: tuple[float, float]) -> Callable[[Cond, torch.Tensor, torch.Generator], Cond]:
    """Stage two's conditions of a batch x: its own conditions (class labels or a prompt's) and a w ~ U[w_min, w_max]
    per sample (drawn for the whole batch, a rank of a data-parallel run keeps its rows)."""
    check_w_range(w_range)

    def draw(cond: Cond, x: torch.Tensor, gen: torch.Generator) -> Cond:
        if not cond:
            raise ValueError("guided distillation needs conditional data: class labels (data.conditional: true) or "
                             "captions (a text-to-image teacher)")
        w = local_rows(draw_w(global_batch(x.shape[0]), w_range, gen)).to(x.device)
        return {**cond, W: w}

    return draw


def round_loss(w_range: tuple[float, float]):
    """Stage two's batch loss, for the shared round step (distill/pipeline/distill_round.py): PD Algorithm 2's loss
    (distill.methods.progressive.loss_at) with a w ~ U[w_min, w_max] per sample, drawn after the batch's times and
    noise; teacher (the previous w-conditioned student) and student both take it."""
    draw = w_conditions(w_range)

    def loss(student: NetworkDenoiser, teacher: Denoiser, x: torch.Tensor, n_steps: int, weighting: str,
             gen: torch.Generator, cond: Cond = None, times_per_step: int = 1) -> torch.Tensor:
        t, eps = progressive.draw_times_and_noise(x, n_steps, gen, times_per_step)
        return progressive.loss_at(student, teacher, x, t, eps, n_steps, weighting, draw(cond, x, gen))

    return loss


def guided_target(teacher: Denoiser, z_t: torch.Tensor, t: torch.Tensor, cond: Mapping[str, torch.Tensor],
                  w: torch.Tensor, guide: Guide) -> torch.Tensor:
    """The guided teacher's x-hat^w(z_t, c) with a w per sample (not clipped, as PD's targets)."""
    return guide(teacher, w)(z_t, t, cond)


def stage_one_loss(student: NetworkDenoiser, teacher: Denoiser, x: torch.Tensor, cond: Mapping[str, torch.Tensor],
                   w_range: tuple[float, float], weighting: str, guide: Guide,
                   gen: torch.Generator) -> torch.Tensor:
    """One Monte-Carlo estimate of stage one's loss for a batch (x, c), c its conditions (a class label, or a prompt's
    conditions): t ~ U[0, 1], eps, w drawn from `gen` for the whole batch (a rank keeps its rows); omega(lambda_t) =
    `weighting` (distill.core.weighting). t is read in the student's window of trained levels (a diffusers
    network's: distill.core.time_window)."""
    n = global_batch(x.shape[0])
    t = window_of(student)(local_rows(torch.rand(n, generator=gen, dtype=torch.float64)))
    eps = local_rows(torch.randn((n, *x.shape[1:]), generator=gen)).to(x.device)
    w = local_rows(draw_w(n, w_range, gen)).to(x.device)
    alpha, sigma = student.schedule.alpha_sigma(t)
    z_t = broadcast_like(alpha, x) * x + broadcast_like(sigma, x) * eps
    t_in = t.to(x.dtype).to(x.device)
    with torch.no_grad():
        target = guided_target(teacher, z_t, t_in, cond, w, guide)
    x_hat = student(z_t, t_in, {**cond, W: w})
    mse = (x_hat - target).pow(2).flatten(1).mean(dim=1)
    return (loss_weight(weighting, student.schedule.logsnr(t)).to(x.dtype).to(x.device) * mse).mean()


def make_stage_one_loss(student: NetworkDenoiser, teacher: Denoiser, batches: Batches,
                        w_range: tuple[float, float], weighting: str, guide: Guide):
    """A loss_fn(net, gen) for `distill.core.training.train`: a batch (x, its conditions) from `batches` with `gen`,
    then `stage_one_loss` against the teacher guided by `guide`."""
    check_w_range(w_range)

    def loss_fn(net: nn.Module, gen: torch.Generator) -> torch.Tensor:
        x, cond = batches(gen)
        if not cond:
            raise ValueError("guided distillation needs conditional data: class labels (data.conditional: true) or "
                             "captions (a text-to-image teacher)")
        return stage_one_loss(student, teacher, x, cond, w_range, weighting, guide, gen)

    return loss_fn
