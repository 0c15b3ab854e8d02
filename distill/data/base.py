"""The in-memory data set every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch


class DataError(RuntimeError):
    """A data set is missing or malformed; the message says what was expected and where."""


@dataclass
class ArrayDataset:
    """images: uint8 [N, C, H, W] (kind 'image'); points: float32 [N, D] already in model space (kind 'points')."""

    name: str
    data: np.ndarray
    labels: Optional[np.ndarray] = None
    num_classes: int = 0

    def __post_init__(self) -> None:
        if self.data.ndim == 4 and self.data.dtype != np.uint8:
            raise DataError(f"{self.name}: images must be uint8 [N, C, H, W], got {self.data.dtype}")
        if self.data.ndim not in (2, 4):
            raise DataError(f"{self.name}: expected images [N, C, H, W] or points [N, D], got shape {self.data.shape}")
        if len(self.data) == 0:
            raise DataError(f"{self.name}: the data set is empty")
        if self.labels is not None and len(self.labels) != len(self.data):
            raise DataError(f"{self.name}: {len(self.labels)} labels for {len(self.data)} examples")

    @property
    def kind(self) -> str:
        return "image" if self.data.ndim == 4 else "points"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) or (D,)."""
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return len(self.data)

    def model_tensor(self) -> torch.Tensor:
        """All examples as float32 in model space: images scaled to [-1, 1], points unchanged."""
        if self.kind == "image":
            return torch.from_numpy(self.data).float() / 127.5 - 1.0
        return torch.from_numpy(np.ascontiguousarray(self.data, dtype=np.float32))

    def label_tensor(self) -> Optional[torch.Tensor]:
        return None if self.labels is None else torch.from_numpy(np.asarray(self.labels, dtype=np.int64))

    def split(self, holdout_fraction: float, seed: int) -> tuple["ArrayDataset", "ArrayDataset"]:
        """A deterministic random split into (train, held-out)."""
        order = np.random.default_rng(seed).permutation(len(self))
        n_hold = int(round(holdout_fraction * len(self)))
        if n_hold < 1 or n_hold >= len(self):
            raise DataError(f"{self.name}: a held-out fraction of {holdout_fraction} leaves an empty split")
        parts = order[n_hold:], order[:n_hold]
        return tuple(  # type: ignore[return-value]
            ArrayDataset(self.name, self.data[idx], None if self.labels is None else self.labels[idx], self.num_classes)
            for idx in parts
        )


def images_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Model-space images in [-1, 1] -> uint8 [0, 255] (rounded, clipped)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
