"""PNG grids of samples (the first 64 of an evaluation), for reports and `snakemake --report`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

from distill.core.checkpoint import atomic_write


def save_grid(images: Optional[np.ndarray], path: str | Path, scale: int | None = None, message: str = "") -> None:
    """uint8 [N, C, H, W] -> one PNG with the images on a square grid; None writes a small image saying `message`."""
    if images is None or len(images) == 0:
        img = Image.new("L", (256, 64), 255)
        ImageDraw.Draw(img).text((8, 24), message or "no samples", fill=0)
    else:
        n, c, h, w = images.shape
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        grid = np.full((c, rows * (h + 1) + 1, cols * (w + 1) + 1), 255, np.uint8)
        for i, im in enumerate(images):
            r, k = divmod(i, cols)
            grid[:, 1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + k * (w + 1): 1 + k * (w + 1) + w] = im
        img = Image.fromarray(grid[0] if c == 1 else grid.transpose(1, 2, 0))
        scale = scale or max(1, 256 // (cols * (w + 1)))
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    atomic_write(path, lambda p: img.save(p, format="PNG"))
