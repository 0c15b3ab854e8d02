"""One training loop for every model of the suite (teachers, students, feature classifiers).

It owns the optimizer (Adam, decoupled weight decay), the learning-rate schedule (linear warm-up, optional linear
anneal to 0), gradient clipping, the EMA, logging, divergence detection (a non-finite loss stops the run and is
recorded), and resumable checkpoints: every `checkpoint_every` steps the whole state (network, EMA, optimizer, the
data/noise generator and the global RNG, step, log, elapsed time) is written atomically, so a run killed at any
point and started again ends with the same weights as an uninterrupted run (bit-identical on CPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from distill.core.checkpoint import atomic_write, load_state, save_state
from distill.core.ema import EMA

# loss_fn(net, generator) -> scalar loss; all randomness of a step must come from `generator` (or the global RNG).
LossFn = Callable[[nn.Module, torch.Generator], torch.Tensor]

STATE_FILE = "train_state.pt"
LOG_FILE = "log.jsonl"


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
class TrainResult:
    status: str  # 'completed' or 'diverged'
    steps: int
    wall_seconds: float
    images_seen: int
    final_loss: float
    diverged_at: int | None = None
    log: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "log"}


def make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    # foreach: one multi-tensor kernel per update rule instead of a Python loop over the parameters (the default on
    # CUDA; on CPU it is opt-in). Same arithmetic: the updates are bit-identical to the loop's.
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay,
                             foreach=True)


def train_step(net: nn.Module, loss_fn: LossFn, opt: torch.optim.Optimizer, params: list[torch.nn.Parameter],
               gen: torch.Generator, grad_clip: float, ema: EMA | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One update: loss, backward, gradient clipping, optimizer step, EMA. Returns (loss, grad norm); a non-finite
    loss makes no update and returns grad norm None."""
    loss = loss_fn(net, gen)
    if not torch.isfinite(loss):
        return loss, None
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf, foreach=True)
    opt.step()
    if ema is not None:
        ema.update(net)
    return loss, grad_norm


def train(
    net: nn.Module,
    loss_fn: LossFn,
    cfg: TrainConfig,
    out_dir: str | Path,
    desc: str = "train",
    progress: bool = True,
    fingerprint: Mapping[str, Any] | None = None,
) -> tuple[TrainResult, dict[str, torch.Tensor]]:
    """Run (or resume) training; returns the result and the final weights (EMA weights if ema_decay > 0).

    A saved state is resumed only if it was made by the same run: `fingerprint` (default: the TrainConfig) must be
    equal; a state left by other settings is set aside and training starts from scratch."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = make_optimizer(params, cfg)
    ema = EMA(net, cfg.ema_decay) if cfg.ema_decay > 0 else None
    gen = torch.Generator().manual_seed(cfg.seed)
    step, elapsed, log, last_loss = 0, 0.0, [], math.nan

    for stale in out_dir.glob(".*.tmp"):  # temporary files of a run killed while writing (atomic_write)
        stale.unlink()
    state_path = out_dir / STATE_FILE
    fingerprint = json.loads(json.dumps(dict(fingerprint or dataclasses.asdict(cfg)), sort_keys=True, default=str))
    if state_path.exists() and load_state(state_path).get("fingerprint") != fingerprint:
        print(f"{state_path} was written with other settings; starting from scratch", file=sys.stderr)
        state_path.unlink()
    if state_path.exists():
        state = load_state(state_path)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["global_rng"])
        step, elapsed, log, last_loss = state["step"], state["elapsed"], state["log"], state["last_loss"]

    def checkpoint() -> None:
        save_state(state_path, {
            "net": net.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict() if ema else None,
            "gen": gen.get_state(), "global_rng": torch.get_rng_state(), "step": step,
            "elapsed": elapsed + time.perf_counter() - start, "log": log, "last_loss": last_loss,
            "fingerprint": fingerprint,
        })
        atomic_write(out_dir / LOG_FILE, lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in log)))

    net.train()
    start, status, diverged_at = time.perf_counter(), "completed", None
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, disable=not progress, dynamic_ncols=True)
    while step < cfg.steps:
        lr = cfg.lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        loss, grad_norm = train_step(net, loss_fn, opt, params, gen, cfg.grad_clip, ema)
        if grad_norm is None:
            status, diverged_at = "diverged", step
            break
        step += 1
        last_loss = float(loss.detach())
        if step % cfg.log_every == 0 or step == cfg.steps:
            log.append({"step": step, "loss": last_loss, "lr": lr, "grad_norm": float(grad_norm),
                        "seconds": elapsed + time.perf_counter() - start})
            bar.set_postfix(loss=f"{last_loss:.4g}")
        if step % cfg.checkpoint_every == 0 and step < cfg.steps:
            checkpoint()
        bar.update(1)
    bar.close()
    checkpoint()
    result = TrainResult(status, step, elapsed + time.perf_counter() - start, step * cfg.batch_size, last_loss,
                         diverged_at, log)
    weights = ema.state_dict() if ema is not None else net.state_dict()
    return result, {k: v.detach().clone() for k, v in weights.items()}
