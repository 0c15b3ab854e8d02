"""Classifier-free guidance as a denoiser wrapper (Ho & Salimans 2022; the guided teacher of Meng et al. 2023):

    x-hat^w(z_t, c) = (1 + w) x-hat(z_t, c) - w x-hat(z_t, null)

w = 0 is the conditional model. The unconditional model is the same network given the null label (a class index of
its own, `null_label`). One guided call evaluates the network twice (`evaluations_per_call`, which the samplers'
NFE counts read), as one batch of twice the size.
"""

from __future__ import annotations

import torch

from distill.core.denoiser import Cond, Denoiser


class GuidedDenoiser:
    evaluations_per_call = 2

    def __init__(self, denoise: Denoiser, w: float | torch.Tensor, null_label: int):
        if isinstance(w, (int, float)) and not (w >= 0 and w == w and w != float("inf")):
            raise ValueError(f"guidance weight w must be a finite number >= 0, got {w}")
        self.denoise, self.w, self.null_label = denoise, w, int(null_label)

    def __call__(self, z: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        if not cond or "label" not in cond:
            raise ValueError("classifier-free guidance needs the class: pass cond={'label': LongTensor[B]}")
        labels = cond["label"]
        if (labels == self.null_label).any():
            raise ValueError(f"label {self.null_label} is the null label of the unconditional model, not a class")
        both = {k: torch.cat([v, v]) for k, v in cond.items() if k != "label"}
        both["label"] = torch.cat([labels, torch.full_like(labels, self.null_label)])
        x_cond, x_uncond = self.denoise(torch.cat([z, z]), torch.cat([t, t]), both).chunk(2)
        w = torch.as_tensor(self.w, dtype=z.dtype, device=z.device)
        w = w.reshape(-1, *([1] * (z.ndim - 1))) if w.ndim else w
        return (1 + w) * x_cond - w * x_uncond
