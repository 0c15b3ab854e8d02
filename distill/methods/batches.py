"""Training batches drawn from an in-memory data set with a given generator (shared by every training loss)."""

from __future__ import annotations

from typing import Optional

import torch

from distill.core.distributed import local_rows
from distill.core.schedule import broadcast_like


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
