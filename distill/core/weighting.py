"""Loss weightings as x-space weights w(lambda_t) for L = w ||x - x-hat||^2 (PD Sec. 4, Eq. 2).

  snr          : w = exp(lambda)           == ||eps - eps-hat||^2 (Ho et al. 2020)
  snr_trunc    : w = max(exp(lambda), 1)   == max(||x - x-hat||^2, ||eps - eps-hat||^2)
  snr_plus_one : w = 1 + exp(lambda)       == ||v - v-hat||^2
  constant     : w = 1                     == ||x - x-hat||^2
"""

from __future__ import annotations

import torch

WEIGHTINGS = ("snr", "snr_trunc", "snr_plus_one", "constant")


def loss_weight(weighting: str, logsnr: torch.Tensor) -> torch.Tensor:
    snr = torch.exp(torch.as_tensor(logsnr, dtype=torch.float64))
    if weighting == "snr":
        return snr
    if weighting == "snr_trunc":
        return torch.clamp(snr, min=1.0)
    if weighting == "snr_plus_one":
        return snr + 1.0
    if weighting == "constant":
        return torch.ones_like(snr)
    raise ValueError(f"unknown loss weighting {weighting!r}; expected one of {WEIGHTINGS}")
