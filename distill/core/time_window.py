"""The VP times a teacher was trained on: a window [t_lo, t_hi] of the cosine schedule's times.

The suite's own networks are trained on every log-SNR of the clipped cosine schedule, t in [0, 1]. A diffusers
teacher is trained on its own discrete levels only: sigma in [sigma(0), sigma(M-1)] (Stable Diffusion 1.5: [0.0292,
14.6146]), t in about [0.019, 0.956]. PD's student grid t = i/N and guided distillation's t ~ U[0, 1] are read in that
window (u -> t_lo + (t_hi - t_lo) u), so no network is asked for x-hat at a level it never saw: at t = 1,
alpha = 4.5e-5, and an epsilon-prediction's x-hat = (z - sigma eps-hat) / alpha is its error times 22,000. u = 0
stays t = 0, the clean data a sampler's last step returns. The window (0, 1) is the whole schedule: the times are
unchanged."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from distill.core.schedule import CosineSchedule


@dataclass(frozen=True)
class TimeWindow:
    t_lo: float = 0.0
    t_hi: float = 1.0

    def __post_init__(self):
        if not 0.0 <= self.t_lo < self.t_hi <= 1.0:
            raise ValueError(f"a time window needs 0 <= t_lo < t_hi <= 1, got [{self.t_lo}, {self.t_hi}]")

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """t of window times u (float64): t_lo + (t_hi - t_lo) u for u > 0, and 0 for u <= 0."""
        u = torch.as_tensor(u, dtype=torch.float64)
        return torch.where(u > 0, self.t_lo + (self.t_hi - self.t_lo) * u, torch.zeros_like(u))

    @classmethod
    def of_sigmas(cls, sigma_min: float, sigma_max: float, schedule: CosineSchedule | None = None) -> "TimeWindow":
        """The window of noise levels [sigma_min, sigma_max] (sigma = exp(-lambda / 2))."""
        if not 0 < sigma_min < sigma_max < math.inf:
            raise ValueError(f"a window of noise levels needs 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        schedule = schedule or CosineSchedule()
        t = schedule.t_from_logsnr(-2.0 * torch.log(torch.tensor([sigma_min, sigma_max], dtype=torch.float64)))
        return cls(max(float(t[0]), 0.0), min(float(t[1]), 1.0))


WHOLE = TimeWindow()


def window_of(denoiser) -> TimeWindow:
    """The window of a denoiser's trained levels: a diffusers network's (its `sigma_range`), else the whole schedule."""
    sigma_range = getattr(denoiser, "sigma_range", None)
    return WHOLE if sigma_range is None else TimeWindow.of_sigmas(*sigma_range())
