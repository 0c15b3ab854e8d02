"""Continuous-time diffusion training of a teacher (PD Algorithm 1, Eq. 2).

x ~ data, t ~ U[0, 1], eps ~ N(0, I), z_t = alpha_t x + sigma_t eps,
L = w(lambda_t) || x-hat_theta(z_t) - x ||^2  (mean over dimensions), with x-hat from the chosen parameterization.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from distill.core.denoiser import NetworkDenoiser
from distill.core.distributed import global_batch, local_rows
from distill.core.schedule import broadcast_like
from distill.core.weighting import loss_weight
from distill.methods.batches import draw_batch


def diffusion_loss(
    denoiser: NetworkDenoiser,
    x: torch.Tensor,
    weighting: str,
    gen: torch.Generator,
    labels: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """One Monte-Carlo estimate of PD Eq. 2 for a batch x; all noise drawn from `gen` (for the whole batch; a rank of
    a data-parallel run keeps its rows)."""
    n = global_batch(x.shape[0])
    t = local_rows(torch.rand(n, generator=gen)).to(x.device)
    eps = local_rows(torch.randn((n, *x.shape[1:]), generator=gen)).to(x.device)
    logsnr = denoiser.schedule.logsnr(t)
    alpha, sigma = denoiser.schedule.alpha_sigma(t)
    z = broadcast_like(alpha, x) * x + broadcast_like(sigma, x) * eps
    x_hat = denoiser(z, t, None if labels is None else {"label": labels})
    mse = (x_hat - x).pow(2).flatten(1).mean(dim=1)
    return (loss_weight(weighting, logsnr).to(x.dtype) * mse).mean()


def make_teacher_loss(
    denoiser: NetworkDenoiser,
    data: torch.Tensor,
    labels: Optional[torch.Tensor],
    batch_size: int,
    weighting: str,
    random_flip: bool = False,
    label_dropout: float = 0.0,
    null_label: Optional[int] = None,
):
    """A loss_fn(net, gen) for `distill.core.training.train`: draws a batch (and flips) from `gen`, then Eq. 2. With
    label_dropout p, each example's label becomes `null_label` with probability p (drawn for the whole batch from
    `gen`), so the same network learns the unconditional model classifier-free guidance needs."""
    if label_dropout > 0 and (labels is None or null_label is None):
        raise ValueError("label dropout needs class labels and a network with a null label (network.null_label)")

    def loss_fn(net: nn.Module, gen: torch.Generator) -> torch.Tensor:
        x, y = draw_batch(data, labels, batch_size, random_flip, gen)
        if label_dropout > 0:
            drop = local_rows(torch.rand(batch_size, generator=gen) < label_dropout).to(y.device)
            y = torch.where(drop, torch.full_like(y, null_label), y)
        return diffusion_loss(denoiser, x, weighting, gen, y)

    return loss_fn
