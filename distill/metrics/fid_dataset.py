"""A torch Dataset over a uint8 image tensor, as torch-fidelity expects its inputs."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class UInt8Images(Dataset):
    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]
