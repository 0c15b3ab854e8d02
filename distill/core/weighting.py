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

SIGMA_DATA = 0.5  # EDM's default data standard deviation


def _edm(snr: torch.Tensor, sigma_data: float) -> torch.Tensor:
    if sigma_data <= 0:
        raise ValueError(f"the edm weighting needs sigma_data > 0, got {sigma_data}")
    return snr + sigma_data ** -2


# Every loss weighting by its params.yaml name: (SNR = exp(lambda), sigma_data) -> w, in the paper's order.
WEIGHTING_FNS = {
    "snr": lambda snr, sigma_data: snr,
    "snr_trunc": lambda snr, sigma_data: torch.clamp(snr, min=1.0),
    "snr_plus_one": lambda snr, sigma_data: snr + 1.0,
    "constant": lambda snr, sigma_data: torch.ones_like(snr),
    "edm": _edm,
}
WEIGHTINGS = tuple(WEIGHTING_FNS)


def loss_weight(weighting: str, logsnr: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    if weighting not in WEIGHTING_FNS:
        raise ValueError(f"unknown loss weighting {weighting!r}; expected one of {WEIGHTINGS}")
    return WEIGHTING_FNS[weighting](torch.exp(torch.as_tensor(logsnr, dtype=torch.float64)), sigma_data)
