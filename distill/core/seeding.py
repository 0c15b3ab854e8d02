"""Per-sample seeding: sample i is drawn from its own generator seeded with seeds[i] (as EDM's generate.py), so its
noise, and hence the sample, does not depend on the batch it is drawn in."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class SeededNoise:
    """One torch.Generator per sample; every draw is per sample and stacked along the batch dimension."""

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu"):
        self.seeds = [int(s) for s in seeds]
        self.device = torch.device(device)
        self.generators = [torch.Generator(device="cpu").manual_seed(s) for s in self.seeds]

    def __len__(self) -> int:
        return len(self.seeds)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A standard normal tensor [len(seeds), *shape]; drawn on the CPU so values are device-independent."""
        draws = [torch.randn(shape, generator=g, dtype=dtype) for g in self.generators]
        return torch.stack(draws).to(self.device)

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        return self.randn(*x.shape[1:], dtype=x.dtype)


def parse_seeds(spec: str) -> list[int]:
    """Parse '0-99,200,300-309' into a list of ints (EDM's seed-range syntax)."""
    seeds: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    if not seeds:
        raise ValueError(f"empty seed specification {spec!r}")
    return seeds
