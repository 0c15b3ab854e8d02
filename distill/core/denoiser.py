"""The one interface every sampler and loss uses: a denoiser maps (z_t, t, cond) to x-hat.

    denoise(z_t: Tensor[B, ...], t: Tensor[B], cond: Mapping[str, Tensor] | None) -> x-hat: Tensor[B, ...]

`t` is variance-preserving time in [0, 1] under a `CosineSchedule`; `cond` holds optional conditioning tensors of
shape [B] (e.g. "label", "w", "steps"). A trained network (`NetworkDenoiser`), an analytic model or an imported
model plugs into the samplers the same way. `SigmaFormDenoiser` gives the EDM sigma-form view used by EDM solvers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Optional

import torch
from torch import nn

from distill.core.parameterization import check_parameterization, x_from_output
from distill.core.schedule import CosineSchedule, alpha_sigma_from_logsnr, network_time

Cond = Optional[Mapping[str, torch.Tensor]]
Denoiser = Callable[[torch.Tensor, torch.Tensor, Cond], torch.Tensor]


class NetworkDenoiser(nn.Module):
    """Wrap a network net(z, t_net, cond) -> raw output with a parameterization, giving x-hat."""

    def __init__(self, net: nn.Module, parameterization: str, schedule: CosineSchedule | None = None):
        super().__init__()
        check_parameterization(parameterization)
        self.net = net
        self.parameterization = parameterization
        self.schedule = schedule or CosineSchedule()

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        logsnr = self.schedule.logsnr(t)
        alpha, sigma = alpha_sigma_from_logsnr(logsnr)
        out = self.net(z, network_time(logsnr).to(z.dtype), cond)
        return x_from_output(self.parameterization, out, z, alpha, sigma)


class SigmaFormDenoiser:
    """EDM sigma-form view of a VP denoiser (Karras et al. 2022): x = z_t / alpha_t, sigma = sigma_t / alpha_t.

    D(x, sigma, cond) = x-hat(z_t = alpha x, t(lambda)) with lambda = -2 log sigma; the only place the two forms meet.
    """

    def __init__(self, denoise: Denoiser, schedule: CosineSchedule | None = None):
        self.denoise = denoise
        self.schedule = schedule or CosineSchedule()

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(x.shape[0])
        logsnr = (-2.0 * torch.log(sigma)).clamp(self.schedule.logsnr_min, self.schedule.logsnr_max)
        alpha, _ = alpha_sigma_from_logsnr(logsnr)
        z = alpha.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1))) * x
        return self.denoise(z, self.schedule.t_from_logsnr(logsnr).to(x.dtype), cond)
