"""A training run's settings and results, shared by the loop (distill/core/training.py), the methods and the
benchmarks: the optimizer and schedule settings of a part (TrainConfig, Part), what a finished run reports
(TrainResult), the files a run folder holds, and the optimizer every part gets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from distill.core import distributed

# loss_fn(net, generator) -> scalar loss; all randomness of a step must come from `generator` (or the global RNG).
LossFn = Callable[[nn.Module, torch.Generator], torch.Tensor]

STATE_FILE = "train_state.pt"
LOG_FILE = "log.jsonl"
SINGLE = "net"  # the part name of a one-network run (`train`)


@dataclass
class TrainConfig:
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int = 0
    anneal: str = "none"  # 'none' or 'linear' (to 0 at `steps`)
    weight_decay: float = 0.0
    ema_decay: float = 0.0  # 0: no EMA, the trained weights are the result
    grad_clip: float = 0.0  # 0: no clipping
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0
    precision: str = "fp32"  # 'bf16': the steps under torch.autocast(bfloat16) (CUDA); weights and optimizer stay fp32

    @classmethod
    def from_params(cls, section: Mapping[str, Any], seed: int = 0) -> "TrainConfig":
        keys = cls.__dataclass_fields__.keys()
        kwargs = {k: v for k, v in section.items() if k in keys}
        if "adam_betas" in kwargs:
            kwargs["adam_betas"] = tuple(kwargs["adam_betas"])
        return cls(**kwargs, seed=seed) if "seed" not in kwargs else cls(**kwargs)

    def lr_at(self, step: int) -> float:
        """Learning rate for update number `step` (0-based)."""
        lr = self.lr * min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else self.lr
        if self.anneal == "linear":
            lr *= max(0.0, 1.0 - step / self.steps)
        return lr


@dataclass
class Part:
    """One trained network of a run. `cfg` gives its optimizer, clipping, EMA and schedule (its lr_at is read at the
    run's step); `lr_schedule(step) -> lr` replaces that schedule (e.g. SFD's drop at half the run)."""
    net: nn.Module
    cfg: TrainConfig
    lr_schedule: Callable[[int], float] | None = None

    def lr_at(self, step: int) -> float:
        return self.lr_schedule(step) if self.lr_schedule is not None else self.cfg.lr_at(step)


@dataclass
class TrainResult:
    status: str  # 'completed' or 'diverged'
    steps: int
    wall_seconds: float
    images_seen: int
    final_loss: float
    diverged_at: int | None = None
    log: list[dict[str, float]] = field(default_factory=list)
    updates: dict[str, int] = field(default_factory=dict)  # optimizer updates per part

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "log"}
        if distributed.world_size() > 1:  # a data-parallel run (torchrun): how many processes shared each batch
            out["data_parallel_processes"] = distributed.world_size()
        return out


class NonFiniteLoss(Exception):
    """Raised by StepContext.update on a NaN/inf loss; the loop records the run as diverged."""


def make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    # fused: one kernel per parameter for the whole AdamW update (CPU and CUDA), instead of foreach's dozen kernels per
    # update rule. The optimizer was over half of the mini teacher step's time outside its network passes (5.7 of
    # 10 ms; clipping 1.9, EMA 1.5); fused cuts it to about a quarter. Its rounding differs from foreach's (updates
    # agree to ~5e-7), so results made before this change are not bit-identical to it.
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay,
                             fused=True)


def precision_record(precision: str) -> dict[str, str]:
    """What a model's config records of its training arithmetic: nothing for fp32 (every run before the setting
    existed), else the precision (so a bf16 run neither resumes an fp32 state nor reads as one)."""
    return {} if precision == "fp32" else {"precision": precision}
