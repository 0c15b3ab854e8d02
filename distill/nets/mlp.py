"""An MLP denoiser for 2-D (or any flat) data, conditioned like the U-Net through `ConditionEmbedding`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from distill.nets.embedding import ConditionEmbedding


class MLP(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 256,
        depth: int = 4,
        emb_ch: int = 64,
        num_classes: int = 0,
        scalar_conditions: Sequence[str] = (),
        null_label: bool = False,
        condition_scales: Optional[Mapping[str, float]] = None,
    ):
        super().__init__()
        self.embed = ConditionEmbedding(emb_ch, hidden, num_classes, scalar_conditions, null_label, condition_scales)
        self.inp = nn.Linear(in_features, hidden)
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Optional[Mapping[str, torch.Tensor]] = None) -> torch.Tensor:
        emb = self.embed(t, cond)
        h = self.inp(x.flatten(1))
        for layer in self.hidden:
            h = h + layer(F.silu(h + emb))
        return self.out(F.silu(h)).reshape(x.shape[0], -1, *x.shape[2:]) if x.ndim > 2 else self.out(F.silu(h))
