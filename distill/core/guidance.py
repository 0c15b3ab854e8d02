"""Classifier-free guidance as a denoiser wrapper (Ho & Salimans 2022; the guided teacher of Meng et al. 2023):

    x-hat^w(z_t, c) = (1 + w) x-hat(z_t, c) - w x-hat(z_t, null)

w = 0 is the conditional model. The unconditional model is the same network given the null label (a class index of
its own, `null_label`), or, for a text-to-image teacher, the unconditional prompt's conditions (`PromptGuided`;
diffusers' guidance_scale is 1 + w). One guided call evaluates the network twice (`evaluations_per_call`, which the
samplers' NFE counts read), as one batch of twice the size.
"""

from __future__ import annotations

import torch

from collections.abc import Mapping

from distill.core.denoiser import Cond, Denoiser


def check_weight(w: float | torch.Tensor) -> float | torch.Tensor:
    if isinstance(w, (int, float)) and not (w >= 0 and w == w and w != float("inf")):
        raise ValueError(f"guidance weight w must be a finite number >= 0, got {w}")
    return w


def combine(x_cond: torch.Tensor, x_uncond: torch.Tensor, w: float | torch.Tensor) -> torch.Tensor:
    """(1 + w) x-hat(c) - w x-hat(null), w a number or one per sample."""
    w = torch.as_tensor(w, dtype=x_cond.dtype, device=x_cond.device)
    w = w.reshape(-1, *([1] * (x_cond.ndim - 1))) if w.ndim else w
    return (1 + w) * x_cond - w * x_uncond


class GuidedDenoiser:
    evaluations_per_call = 2

    def __init__(self, denoise: Denoiser, w: float | torch.Tensor, null_label: int):
        self.denoise, self.w, self.null_label = denoise, check_weight(w), int(null_label)

    def __call__(self, z: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        if not cond or "label" not in cond:
            raise ValueError("classifier-free guidance needs the class: pass cond={'label': LongTensor[B]}")
        labels = cond["label"]
        if (labels == self.null_label).any():
            raise ValueError(f"label {self.null_label} is the null label of the unconditional model, not a class")
        both = {k: torch.cat([v, v]) for k, v in cond.items() if k != "label"}
        both["label"] = torch.cat([labels, torch.full_like(labels, self.null_label)])
        x_cond, x_uncond = self.denoise(torch.cat([z, z]), torch.cat([t, t]), both).chunk(2)
        return combine(x_cond, x_uncond, self.w)


class PromptGuided:
    """Classifier-free guidance of a text-to-image teacher: its unconditional branch takes `null`, the conditions of
    the unconditional prompt (distill/nets/diffusers_text.py `PromptEncoder.null`), for every sample; w = guidance_scale
    - 1 of diffusers' pipelines."""
    evaluations_per_call = 2

    def __init__(self, denoise: Denoiser, w: float | torch.Tensor, null: Mapping[str, torch.Tensor]):
        self.denoise, self.w, self.null = denoise, check_weight(w), dict(null)

    def __call__(self, z: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        if not cond or set(self.null) - set(cond):
            raise ValueError(f"prompt guidance needs the prompt's conditions {sorted(self.null)}, got "
                             f"{sorted(cond or {})}")
        null = {k: v.to(z.device).expand(len(z), *v.shape[1:]) for k, v in self.null.items()}
        both = {k: torch.cat([v, null.get(k, v)]) for k, v in cond.items()}
        x_cond, x_uncond = self.denoise(torch.cat([z, z]), torch.cat([t, t]), both).chunk(2)
        return combine(x_cond, x_uncond, self.w)
