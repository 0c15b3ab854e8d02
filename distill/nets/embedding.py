"""Embeddings of the conditioning inputs shared by all denoiser networks.

Every scalar condition (time, and any extra scalar such as a guidance weight w or a step count) is embedded the same
way: a sinusoidal embedding of the value, then Linear-SiLU-Linear, and the result is *added* to the time embedding
that modulates every residual block. Class labels use an nn.Embedding added the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Optional

import torch
from torch import nn


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of a batch of scalars [B] -> [B, dim] (Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
    args = x.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return nn.functional.pad(emb, (0, dim % 2))


class ScalarEmbedding(nn.Module):
    """value -> sinusoidal(value * scale) -> Linear -> SiLU -> Linear."""

    def __init__(self, in_dim: int, emb_dim: int, scale: float = 1.0):
        super().__init__()
        self.in_dim, self.scale = in_dim, scale
        self.mlp = nn.Sequential(nn.Linear(in_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(value * self.scale, self.in_dim))


class ConditionEmbedding(nn.Module):
    """Sum of the embeddings of time (scaled by 1000, as DDPM), an optional class label, and named extra scalars.

    To add a scalar condition (e.g. guidance weight "w" or SFD-v's "steps"), list its name in the network's
    `scalar_conditions` setting and pass cond={"w": tensor[B]} to the network; nothing else changes.
    `condition_scales` multiplies a condition before its sinusoid (absent: 1): a value that moves over a range of a
    few units needs the time embedding's x1000 for its features to differ (guided distillation's w, embedded as VDM
    embeds t); SFD-v's integer step count is embedded as it is (sfd-main/models/networks_edm.py `map_step`).
    """

    def __init__(self, in_dim: int, emb_dim: int, num_classes: int = 0, scalar_conditions: Sequence[str] = (),
                 null_label: bool = False, condition_scales: Optional[Mapping[str, float]] = None):
        super().__init__()
        if null_label and num_classes < 1:
            raise ValueError("a null label (for classifier-free guidance) needs class-conditional data")
        scales = dict(condition_scales or {})
        unknown = sorted(set(scales) - set(scalar_conditions))
        if unknown:
            raise ValueError(f"condition_scales names {unknown}, which are not scalar_conditions {list(scalar_conditions)}")
        bad = {k: v for k, v in scales.items() if not (isinstance(v, (int, float)) and 0 < v < float("inf"))}
        if bad:
            raise ValueError(f"condition_scales must be finite numbers > 0, got {bad}")
        self.time = ScalarEmbedding(in_dim, emb_dim, scale=1000.0)
        self.num_classes = num_classes
        # with null_label, class index num_classes is the unconditional model's label (an extra embedding row)
        self.label = nn.Embedding(num_classes + int(null_label), emb_dim) if num_classes > 0 else None
        self.scalars = nn.ModuleDict({name: ScalarEmbedding(in_dim, emb_dim, scale=float(scales.get(name, 1.0)))
                                      for name in scalar_conditions})

    def forward(self, t: torch.Tensor, cond: Optional[Mapping[str, torch.Tensor]]) -> torch.Tensor:
        cond = cond or {}
        emb = self.time(t)
        if self.label is not None:
            if "label" not in cond:
                raise ValueError("this network is class-conditional: pass cond={'label': LongTensor[B]}")
            emb = emb + self.label(cond["label"].long())
        for name, module in self.scalars.items():
            if name not in cond:
                raise ValueError(f"this network is conditioned on {name!r}: pass cond={{{name!r}: Tensor[B]}}")
            emb = emb + module(cond[name])
        return emb
