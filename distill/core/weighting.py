"""Loss weightings as x-space weights w(lambda_t) for L = w ||x - x-hat||^2 (PD Sec. 4, Eq. 2).

  snr          : w = exp(lambda)           == ||eps - eps-hat||^2 (Ho et al. 2020)
  snr_trunc    : w = max(exp(lambda), 1)   == max(||x - x-hat||^2, ||eps - eps-hat||^2)
  snr_plus_one : w = 1 + exp(lambda)       == ||v - v-hat||^2
  constant     : w = 1                     == ||x - x-hat||^2
  edm          : w = exp(lambda) + 1 / sigma_data^2 == sigma^-2 + sigma_data^-2 in EDM's sigma form (Karras et al.
                 2022, Eq. 8 and Table 1; DMD2's and DisBack's fake-score loss), lambda = -2 log sigma
"""

from __future__ import annotations

import torch

WEIGHTINGS = ("snr", "snr_trunc", "snr_plus_one", "constant", "edm")
SIGMA_DATA = 0.5  # EDM's default data standard deviation


def loss_weight(weighting: str, logsnr: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    snr = torch.exp(torch.as_tensor(logsnr, dtype=torch.float64))
    if weighting == "snr":
        return snr
    if weighting == "snr_trunc":
        return torch.clamp(snr, min=1.0)
    if weighting == "snr_plus_one":
        return snr + 1.0
    if weighting == "constant":
        return torch.ones_like(snr)
    if weighting == "edm":
        if sigma_data <= 0:
            raise ValueError(f"the edm weighting needs sigma_data > 0, got {sigma_data}")
        return snr + sigma_data ** -2
    raise ValueError(f"unknown loss weighting {weighting!r}; expected one of {WEIGHTINGS}")
