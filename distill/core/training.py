"""One training loop for every model and method of the suite (teachers, students, classifiers, and methods that
train several networks).

A run trains one or more named *parts* (a network with its own optimizer settings, learning-rate schedule and EMA).
Each step calls a *step function* `step_fn(ctx) -> {name: loss}` that may make any number of updates through
`ctx.update(part, loss)` (a generator and a fake-score network with a ratio of updates between them; one update per
student step along a trajectory it generates itself; or, for the usual case, one loss and one update) and counts the
images it processed with `ctx.count_images(n)`. The loop owns the optimizers (Adam, decoupled weight decay), the
learning-rate schedules (linear warm-up, optional linear anneal to 0, or any function of the step), gradient clipping,
the EMAs, logging, divergence detection (a non-finite loss makes no update, stops the run and is recorded), the cost
(wall seconds, images, updates per part) and resumable checkpoints: every `checkpoint_every` steps the whole state
(networks, EMAs, optimizers, the data/noise generator and the global RNG, step, log, elapsed time, counts) is written
atomically, so a run killed at any point and started again ends with the same weights as an uninterrupted run
(bit-identical on CPU). Under torchrun every rank runs the loop on its share of each batch and gradients are
averaged before each update (distill/core/distributed.py); rank 0 alone writes the checkpoints and the log.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from distill.core import distributed, run_folder
from distill.core.checkpoint import atomic_write, load_state, save_state
from distill.core.ema import EMA
from distill.core.snapshots import Snapshots
# the run's settings and results live in train_settings; imported here under their old names too
from distill.core.train_settings import (  # noqa: F401
    LOG_FILE, SINGLE, STATE_FILE, LossFn, NonFiniteLoss, Part, TrainConfig, TrainResult, make_optimizer,
    precision_record)


class _Trained:
    """A part with its optimizer, its trainable parameters and its EMA."""

    def __init__(self, part: Part):
        self.part = part
        self.params = [p for p in part.net.parameters() if p.requires_grad]
        self.opt = make_optimizer(self.params, part.cfg)
        self.ema = EMA(part.net, part.cfg.ema_decay) if part.cfg.ema_decay > 0 else None
        self.updates = 0
        self.grad_norm = math.nan

    def weights(self) -> dict[str, torch.Tensor]:
        w = self.ema.state_dict() if self.ema is not None else self.part.net.state_dict()
        return {k: v.detach().clone() for k, v in w.items()}


def apply_update(net: nn.Module, loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                 grad_clip: float, ema: EMA | None) -> torch.Tensor:
    """One update from a finite loss: backward, gradients averaged over the ranks of a data-parallel run, gradient
    clipping, optimizer step, EMA. Returns the grad norm."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(params)
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf, foreach=True)
    opt.step()
    if ema is not None:
        ema.update(net)
    return grad_norm


class StepContext:
    """What a step function sees: the run's generator (all randomness of a step comes from it or the global RNG),
    the step index, the networks by name, `update(name, loss)` and `count_images(n)`."""

    def __init__(self, parts: dict[str, _Trained], gen: torch.Generator):
        self._parts, self.gen, self.step, self.images = parts, gen, 0, 0

    def net(self, name: str) -> nn.Module:
        return self._parts[name].part.net

    def update(self, name: str, loss: torch.Tensor) -> None:
        if name not in self._parts:
            raise KeyError(f"no trained part {name!r}; the run trains {sorted(self._parts)}")
        if not distributed.all_finite(loss):  # on every rank, so that all ranks stop together
            raise NonFiniteLoss(name)
        t = self._parts[name]
        t.grad_norm = float(apply_update(t.part.net, loss, t.opt, t.params, t.part.cfg.grad_clip, t.ema))
        t.updates += 1

    def count_images(self, n: int) -> None:
        self.images += int(n)


StepFn = Callable[[StepContext], Mapping[str, torch.Tensor]]


def train_parts(
    parts: Mapping[str, Part],
    step_fn: StepFn,
    cfg: TrainConfig,
    out_dir: str | Path,
    desc: str = "train",
    progress: bool = True,
    fingerprint: Mapping[str, Any] | None = None,
    snapshots: Snapshots | None = None,
) -> tuple[TrainResult, dict[str, dict[str, torch.Tensor]]]:
    """Run (or resume) `cfg.steps` steps of `step_fn` over the named parts; returns the result and each part's final
    weights (its EMA weights if its ema_decay > 0). `cfg` gives the run's steps, seed, checkpoint and log intervals.
    `snapshots` saves named parts' weights at step 0 and every `snapshots.every` steps, with a manifest
    (distill/core/snapshots.py); they resume with the run.

    A saved state is resumed only if it was made by the same run: `fingerprint` (default: the configs) must be
    equal. A folder holding another run (a state of other settings, or finished weights without a state) is an error
    unless the command was told to replace it (distill/core/run_folder.py)."""
    if not parts:
        raise ValueError("train_parts needs at least one part")
    out_dir = Path(out_dir)
    main = distributed.is_main()
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    distributed.check_divisible(cfg.batch_size)
    runner = StepRunner(parts, step_fn, cfg.seed, cfg.precision)
    trained, ctx, gen = runner.trained, runner.ctx, runner.ctx.gen
    step, elapsed, log, last_loss = 0, 0.0, [], math.nan

    state_path = out_dir / STATE_FILE
    default = dataclasses.asdict(cfg) if len(parts) == 1 else {
        "run": dataclasses.asdict(cfg), **{n: dataclasses.asdict(p.cfg) for n, p in parts.items()}}
    fingerprint = json.loads(json.dumps(dict(fingerprint or default), sort_keys=True, default=str))
    distributed.barrier()  # rank 0 made the folder
    # every rank reads rank 0's checkpoint (the generator and RNG states are the same on every rank)
    state = load_state(state_path) if state_path.exists() else None
    same = state is not None and state.get("fingerprint") == fingerprint
    if run_folder.check(out_dir, state is not None, same):  # another run's folder, replaced as the user asked
        if main:
            print(f"--overwrite: replacing the run in {out_dir}; starting from scratch", file=sys.stderr)
        state = None
    distributed.barrier()  # all ranks have read it before rank 0 removes anything
    if main:
        for stale in out_dir.glob(".*.tmp"):  # temporary files of a run killed while writing (atomic_write)
            stale.unlink()
        if state is None:
            state_path.unlink(missing_ok=True)
    if state is not None:
        for name, t in trained.items():
            t.part.net.load_state_dict(state["nets"][name])
            t.opt.load_state_dict(state["opts"][name])
            if t.ema is not None:
                t.ema.load_state_dict(state["emas"][name])
            t.updates = state["updates"][name]
        gen.set_state(state["gen"])
        torch.set_rng_state(state["global_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng"])
        step, elapsed, log, last_loss = state["step"], state["elapsed"], state["log"], state["last_loss"]
        ctx.images = state["images"]

    def snapshot() -> None:
        snapshots.write(step, {n: trained[n].weights() for n in snapshots.parts}, {"fingerprint": fingerprint})

    if snapshots is not None and main:
        unknown = set(snapshots.parts) - set(trained)
        if unknown:
            raise KeyError(f"snapshots of {sorted(unknown)}: the run trains {sorted(trained)}")
        snapshots.keep_until(step)
        if step == 0:
            snapshot()

    def checkpoint() -> None:
        if not main:
            return
        save_state(state_path, {
            "nets": {n: t.part.net.state_dict() for n, t in trained.items()},
            "opts": {n: t.opt.state_dict() for n, t in trained.items()},
            "emas": {n: t.ema.state_dict() if t.ema else None for n, t in trained.items()},
            "updates": {n: t.updates for n, t in trained.items()}, "images": ctx.images,
            "gen": gen.get_state(), "global_rng": torch.get_rng_state(), "step": step,
            "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None,
            "elapsed": elapsed + time.perf_counter() - start, "log": log, "last_loss": last_loss,
            "fingerprint": fingerprint,
        })
        atomic_write(out_dir / LOG_FILE, lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in log)))

    start, status, diverged_at = time.perf_counter(), "completed", None
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, disable=not (progress and main), dynamic_ncols=True)
    while step < cfg.steps:
        try:
            lrs, losses = runner.run(step)
        except NonFiniteLoss:
            status, diverged_at = "diverged", step
            break
        step += 1
        values = distributed.mean_over_ranks(losses)  # the whole batch's losses
        last_loss = next(iter(values.values()), math.nan)
        if step % cfg.log_every == 0 or step == cfg.steps:
            if len(trained) == 1:
                (only,) = trained
                extra = {"lr": lrs[only], "grad_norm": trained[only].grad_norm}
            else:
                extra = {f"{k}_{n}": v for n in trained for k, v in (("lr", lrs[n]), ("grad_norm", trained[n].grad_norm))}
            log.append({"step": step, **values, **extra, "seconds": elapsed + time.perf_counter() - start})
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        if snapshots is not None and main and snapshots.due(step):
            snapshot()  # before the state of the same step: a resumed run finds every snapshot up to its step
        if step % cfg.checkpoint_every == 0 and step < cfg.steps:
            checkpoint()
        bar.update(1)
    bar.close()
    checkpoint()
    distributed.barrier()  # the final state is written before any rank returns
    result = TrainResult(status, step, elapsed + time.perf_counter() - start, ctx.images, last_loss, diverged_at, log,
                         {n: t.updates for n, t in trained.items()})
    return result, {n: t.weights() for n, t in trained.items()}


def train(
    net: nn.Module,
    loss_fn: LossFn,
    cfg: TrainConfig,
    out_dir: str | Path,
    desc: str = "train",
    progress: bool = True,
    fingerprint: Mapping[str, Any] | None = None,
) -> tuple[TrainResult, dict[str, torch.Tensor]]:
    """The usual shape: one network, one loss of a batch of `cfg.batch_size` images, one update per step."""
    result, weights = train_parts({SINGLE: Part(net, cfg)}, one_loss_step(net, loss_fn, cfg.batch_size), cfg, out_dir,
                                  desc, progress, fingerprint)
    return result, weights[SINGLE]


def one_loss_step(net: nn.Module, loss_fn: LossFn, batch_size: int) -> StepFn:
    """The step function of `train`: one loss of a batch of `batch_size` images, one update of the part SINGLE."""

    def step_fn(ctx: StepContext) -> dict[str, torch.Tensor]:
        loss = loss_fn(net, ctx.gen)
        ctx.update(SINGLE, loss)
        ctx.count_images(batch_size)
        return {"loss": loss}

    return step_fn


class StepRunner:
    """The steps of `step_fn` over `parts` (each part's optimizer, learning rate, EMA; the run's generator): what
    `train_parts` runs inside its loop of logging and checkpoints, and what the throughput benchmarks time."""

    def __init__(self, parts: Mapping[str, Part], step_fn: StepFn, seed: int = 0, precision: str = "fp32"):
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision {precision!r}: expected 'fp32' or 'bf16'")
        self.trained = {name: _Trained(p) for name, p in parts.items()}
        self.ctx = StepContext(self.trained, torch.Generator().manual_seed(seed))
        self.step_fn = step_fn
        for t in self.trained.values():
            t.part.net.train()
        device = next(next(iter(parts.values())).net.parameters()).device
        if precision == "bf16" and device.type != "cuda":
            raise ValueError("precision bf16 is for CUDA; this run's networks are on the CPU (set precision: fp32)")
        self.precision = precision

    def run(self, step: int) -> tuple[dict[str, float], Mapping[str, torch.Tensor]]:
        """Update number `step` (0-based): each part's learning rate set, then the step function. Returns the
        learning rates and the losses."""
        lrs = set_learning_rates(self.trained, step)
        self.ctx.step = step
        if self.precision == "bf16":  # forward and backward in bfloat16 where autocast allows; updates in fp32
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return lrs, self.step_fn(self.ctx)
        return lrs, self.step_fn(self.ctx)

    def __call__(self) -> Mapping[str, torch.Tensor]:
        """The next step (the benchmarks' call)."""
        _, losses = self.run(self.ctx.step)
        self.ctx.step += 1
        return losses


def set_learning_rates(trained: Mapping[str, _Trained], step: int) -> dict[str, float]:
    """Each part's learning rate for update number `step`, set in its optimizer."""
    lrs = {}
    for name, t in trained.items():
        lrs[name] = t.part.lr_at(step)
        for group in t.opt.param_groups:
            group["lr"] = lrs[name]
    return lrs
