"""Exponential moving average of parameters (teacher weights = EMA parameters, as the official code)."""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        state = module.state_dict()
        floats = [k for k, v in state.items() if v.dtype.is_floating_point]
        # shadow = d * shadow + (1 - d) * v, for all floating tensors in one multi-tensor call
        torch._foreach_lerp_([self.shadow[k] for k in floats], [state[k] for k in floats], 1.0 - self.decay)
        for k, v in state.items():
            if not v.dtype.is_floating_point:
                self.shadow[k].copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow = {k: v.clone() for k, v in state.items()}
