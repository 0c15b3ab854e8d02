"""Data-parallel runs (torchrun): one process per GPU (or, on CPU, per process with gloo), one shared training loop.

Every rank draws the *whole* batch's randomness (data indices, flips, times, noise) from the run's generator, which
is seeded by the run seed and so the same on every rank, and keeps its own rows of it (`local_rows`): rank r of W
trains on rows [r*B/W, (r+1)*B/W) of the batch a single process would draw. Gradients are averaged over the ranks
before each update, so a W-process run makes the updates of a one-process run with the same batch size B (to float
summation order), its generator and RNG states are the same on every rank (rank 0's checkpoint resumes any of
them), and a run gives the same result on 1, 2 or 8 GPUs. The batch size in params.yaml is the global batch.

Outside torchrun (no WORLD_SIZE in the environment) everything here is the identity: world size 1, rank 0.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterable, Mapping

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Rank 0: the process that writes checkpoints, weights, records and logs, and shows progress."""
    return rank() == 0


def launched() -> bool:
    """True inside a torchrun worker of a run with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str) -> torch.device:
    """Join the torchrun process group (NCCL on CUDA, gloo on CPU) and return this rank's device; a no-op returning
    `device` outside torchrun."""
    if not launched():
        return torch.device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        atexit.register(_finish)
    if not is_main():  # one report per job: rank 0 prints (errors still reach stderr from every rank)
        sys.stdout = open(os.devnull, "w")
    if device == "cuda":
        local = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device(device)


def _finish() -> None:
    """At a worker's exit: wait for the other ranks, then close the process group (a worker that exits with the group
    open can abort in its communication threads)."""
    if dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def check_divisible(batch_size: int, what: str = "batch_size") -> None:
    """The global batch must split evenly over the ranks (each rank's share is batch_size / world size)."""
    w = world_size()
    if batch_size % w:
        raise ValueError(f"{what} {batch_size} does not split over {w} processes; set a {what} that is a multiple "
                         f"of the number of GPUs (params.yaml resources.<job>.gpus)")


def local_rows(x: torch.Tensor) -> torch.Tensor:
    """This rank's rows of a tensor drawn for the whole batch (dim 0): rows [r*B/W, (r+1)*B/W)."""
    w = world_size()
    if w == 1:
        return x
    n = x.shape[0] // w
    return x[rank() * n:(rank() + 1) * n]


def global_batch(local: int) -> int:
    """The whole batch's size, from this rank's share."""
    return local * world_size()


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients over the ranks (one all-reduce of the flattened gradients), so every rank makes the
    update of the whole batch's mean loss. Called between backward and clipping."""
    w = world_size()
    if w == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= w
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_over_ranks(values: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Each scalar's mean over the ranks (the whole batch's loss), as floats."""
    if not values:
        return {}
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    if world_size() > 1:
        dist.all_reduce(stacked)
        stacked /= world_size()
    return dict(zip(values, stacked.tolist()))


def all_finite(loss: torch.Tensor) -> bool:
    """Whether the loss is finite on every rank (all ranks then skip or make the update together)."""
    finite = torch.isfinite(loss.detach()).all().to(torch.float32).reshape(1)
    if world_size() > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def my_share(n: int) -> range:
    """This rank's contiguous share of n items (seeds to sample, images to embed); shares differ by at most one."""
    w, r = world_size(), rank()
    return range(r * n // w, (r + 1) * n // w)


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Every rank's rows concatenated in rank order (ranks may hold different numbers of rows)."""
    w = world_size()
    if w == 1:
        return x
    parts = [None] * w
    dist.all_gather_object(parts, x.cpu())
    return torch.cat(parts)
