"""The `toy2d` data set's distribution in closed form: equal-weight isotropic Gaussians on a circle.

Noised by x_sigma = x + sigma eps (EDM's sigma form), the mixture stays a mixture with each variance raised by
sigma^2, so its density, score and denoiser are exact at every noise level: the truth the 2-D experiments measure
generators and learned scores against, computed from the parameters (never copied).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class RingMixture:
    modes: int = 8
    radius: float = 0.8
    std: float = 0.05

    def __post_init__(self) -> None:
        if self.modes < 1 or self.radius < 0 or self.std <= 0:
            raise ValueError(f"a ring mixture needs modes >= 1, radius >= 0 and std > 0; got {self.modes}, "
                             f"{self.radius}, {self.std}")

    def centers(self) -> torch.Tensor:
        angles = 2 * math.pi * torch.arange(self.modes, dtype=torch.float64) / self.modes
        return self.radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n points (float32) and their mode labels, from numpy's generator of `seed` (the data set's draw)."""
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, self.modes, n)
        angles = 2 * np.pi * labels / self.modes
        centers = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return (centers + self.std * rng.standard_normal((n, 2))).astype(np.float32), labels.astype(np.int64)

    def _responsibilities(self, x: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """p(mode k | x_sigma) for x [B, 2] and per-sample variance var [B, 1] = std^2 + sigma^2."""
        d2 = (x.to(torch.float64)[:, None, :] - self.centers()[None]).pow(2).sum(-1)  # [B, K]
        return torch.softmax(-0.5 * d2 / var, dim=1)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """E[x_0 | x_sigma] (Tweedie): sum_k r_k (std^2 x + sigma^2 mu_k) / (std^2 + sigma^2)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(x.shape[0]).reshape(-1, 1)
        var = self.std ** 2 + sigma.pow(2)
        r = self._responsibilities(x, var)
        mean_mu = r @ self.centers()
        return ((self.std ** 2 * x.to(torch.float64) + sigma.pow(2) * mean_mu) / var).to(x.dtype)

    def score(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """grad log p_sigma(x) = (E[x_0 | x] - x) / sigma^2."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(x.shape[0]).reshape(-1, 1)
        return ((self.denoise(x, sigma.flatten()).to(torch.float64) - x.to(torch.float64)) / sigma.pow(2)).to(x.dtype)

    def log_prob(self, x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
        """log p_sigma(x) per point (sigma = 0: the data density)."""
        var = self.std ** 2 + sigma ** 2
        d2 = (x.to(torch.float64)[:, None, :] - self.centers()[None]).pow(2).sum(-1)
        return torch.logsumexp(-0.5 * d2 / var, dim=1) - math.log(self.modes) - math.log(2 * math.pi * var)
