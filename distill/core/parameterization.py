"""Network output parameterizations (PD Sec. 4): convert a raw network output to x-hat, eps-hat and v-hat.

With z_t = alpha_t x + sigma_t eps:
  eps : x-hat = (z_t - sigma_t eps-hat) / alpha_t
  x   : x-hat = network output
  v   : v = alpha_t eps - sigma_t x,  x-hat = alpha_t z_t - sigma_t v-hat           (PD Appendix D)
  both: the network outputs (x~, eps~) stacked on channels,
        x-hat = sigma_t^2 x~ + alpha_t (z_t - sigma_t eps~)                         (official `mean_type='both'`)
eps-hat and v-hat always follow from x-hat: eps-hat = (z_t - alpha_t x-hat) / sigma_t, v-hat = alpha_t eps-hat - sigma_t x-hat.
"""

from __future__ import annotations

import torch

from distill.core.schedule import broadcast_like

PARAMETERIZATIONS = ("both", "x", "eps", "v")


def output_channels(parameterization: str, data_channels: int) -> int:
    """Channels the network must output for a parameterization ('both' predicts x and eps)."""
    check_parameterization(parameterization)
    return 2 * data_channels if parameterization == "both" else data_channels


def check_parameterization(parameterization: str) -> None:
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {parameterization!r}; expected one of {PARAMETERIZATIONS}")


def x_from_output(parameterization: str, out: torch.Tensor, z: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """x-hat from the raw network output `out` at noisy input z = alpha x + sigma eps."""
    a, s = broadcast_like(alpha, z), broadcast_like(sigma, z)
    if parameterization == "x":
        return out
    if parameterization == "eps":
        return (z - s * out) / a
    if parameterization == "v":
        return a * z - s * out
    if parameterization == "both":
        x_out, eps_out = out.chunk(2, dim=1)
        return s**2 * x_out + a * (z - s * eps_out)
    check_parameterization(parameterization)
    raise AssertionError("unreachable")


def eps_from_x(x_hat: torch.Tensor, z: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """eps-hat = (z - alpha x-hat) / sigma."""
    return (z - broadcast_like(alpha, z) * x_hat) / broadcast_like(sigma, z)


def v_from_x(x_hat: torch.Tensor, z: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """v-hat = alpha eps-hat - sigma x-hat."""
    eps_hat = eps_from_x(x_hat, z, alpha, sigma)
    return broadcast_like(alpha, z) * eps_hat - broadcast_like(sigma, z) * x_hat


def output_from_targets(parameterization: str, x: torch.Tensor, eps: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """The network output that represents the true (x, eps) exactly: the inverse of `x_from_output` (used in tests)."""
    a, s = broadcast_like(alpha, x), broadcast_like(sigma, x)
    if parameterization == "x":
        return x
    if parameterization == "eps":
        return eps
    if parameterization == "v":
        return a * eps - s * x
    if parameterization == "both":
        return torch.cat([x, eps], dim=1)
    check_parameterization(parameterization)
    raise AssertionError("unreachable")
