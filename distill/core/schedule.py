"""Variance-preserving cosine schedule in log-SNR form (PD Sec. 2 and the official `schedules.py`).

alpha_t = cos(pi t / 2) with sigma_t^2 = 1 - alpha_t^2; the log-SNR lambda_t = log(alpha_t^2 / sigma_t^2) is clipped to
[logsnr_min, logsnr_max] = [-20, 20] as in the official code, i.e. lambda(t) = -2 log tan(a t + b).
All functions take tensors of times t in [0, 1] and broadcast; computations run in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CosineSchedule:
    logsnr_min: float = -20.0
    logsnr_max: float = 20.0

    @property
    def _b(self) -> float:
        return math.atan(math.exp(-0.5 * self.logsnr_max))

    @property
    def _a(self) -> float:
        return math.atan(math.exp(-0.5 * self.logsnr_min)) - self._b

    def logsnr(self, t: torch.Tensor) -> torch.Tensor:
        """lambda(t) = -2 log tan(a t + b)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        return -2.0 * torch.log(torch.tan(self._a * t + self._b))

    def t_from_logsnr(self, logsnr: torch.Tensor) -> torch.Tensor:
        """Inverse of `logsnr`: t = (arctan(exp(-lambda/2)) - b) / a."""
        logsnr = torch.as_tensor(logsnr, dtype=torch.float64)
        return (torch.atan(torch.exp(-0.5 * logsnr)) - self._b) / self._a

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha_t^2 = sigmoid(lambda), sigma_t^2 = sigmoid(-lambda)."""
        return alpha_sigma_from_logsnr(self.logsnr(t))


def alpha_sigma_from_logsnr(logsnr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logsnr = torch.as_tensor(logsnr, dtype=torch.float64)
    return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()


def network_time(logsnr: torch.Tensor) -> torch.Tensor:
    """Time fed to networks ('inv_cos' input of the official code): arctan(exp(-lambda/2)) / (pi/2), in [0, 1].

    It equals t for the unclipped cosine schedule and depends on lambda only, so any sampler (VP or sigma-form)
    can call a network with the same input for the same noise level.
    """
    return torch.atan(torch.exp(-0.5 * torch.as_tensor(logsnr, dtype=torch.float64))) / (0.5 * math.pi)


def broadcast_like(coef: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample (or scalar) coefficient to broadcast over x, in x's dtype and device."""
    coef = torch.as_tensor(coef).to(device=x.device, dtype=x.dtype)
    return coef.reshape(coef.shape + (1,) * (x.ndim - coef.ndim))
