"""Training batches drawn from an in-memory data set with a given generator (shared by every training loss), and the
form every batch source takes: `Batches`, gen -> (x, its conditions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch

from distill.core.denoiser import Cond
from distill.core.distributed import local_rows
from distill.core.schedule import broadcast_like

# A source of training batches: a generator -> (x, its conditions: {"label": y}, a prompt's, or None); an in-memory
# data set's (`memory_batches`) or a text-to-image teacher's caption latents (distill/pipeline/conditions.py).
Batches = Callable[[torch.Generator], tuple[torch.Tensor, Cond]]


def draw_batch(
    data: torch.Tensor, labels: Optional[torch.Tensor], batch_size: int, random_flip: bool, gen: torch.Generator
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Indices (and horizontal flips) are drawn on the CPU generator and moved, so a run is the same on any device.
    `batch_size` is the whole batch's; a rank of a data-parallel run returns its rows of it (distill.core.distributed)."""
    idx = local_rows(torch.randint(len(data), (batch_size,), generator=gen)).to(data.device)
    x = data[idx]
    if random_flip:
        flip = local_rows(torch.rand(batch_size, generator=gen) < 0.5).to(data.device)
        x = torch.where(broadcast_like(flip, x).bool(), x.flip(-1), x)
    return x, None if labels is None else labels[idx]


def memory_batches(data: torch.Tensor, labels: Optional[torch.Tensor], batch_size: int,
                   random_flip: bool) -> Batches:
    """`draw_batch` of an in-memory data set, its labels as the conditions {"label": y}."""

    def draw(gen: torch.Generator) -> tuple[torch.Tensor, Cond]:
        x, y = draw_batch(data, labels, batch_size, random_flip, gen)
        return x, None if y is None else {"label": y}

    return draw


def dataset_batches(data, batch_size: int, random_flip: bool, device: torch.device | str = "cpu") -> Batches:
    """`memory_batches` of a data set (distill.data.ArrayDataset), its tensors moved to `device` once."""
    labels = data.label_tensor()
    return memory_batches(data.model_tensor().to(device), None if labels is None else labels.to(device), batch_size,
                          random_flip)
