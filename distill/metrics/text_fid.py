"""FID of text-to-image samples against published statistics of a prompt set's real images (MS-COCO FID-30k).

The statistics SFD's and DMD2's text-to-image tables compare against are a mean and covariance only (no features),
computed by text2image-benchmark (T2IBenchmark/feature_extractors/inceptionV3_feature_extractor.py): each image
centre-cropped to a square and resized to 299 x 299 by PIL's bicubic filter, quantised to uint8 (its "clean" resizer,
T2IBenchmark/utils/resizers.py), then the 2048 pool features of the 2015-12-05 Inception (pytorch-fid's port of the
TensorFlow graph; torch-fidelity's inception-v3-compat is another port of the same graph, its weights file
weights-inception-2015-12-05-6726825d.pth). The same preprocessing here, then that extractor; torch-fidelity's resize
is the identity at 299. One difference remains: torch-fidelity scales a pixel x as (x - 128) / 128 (the graph's own),
the benchmark's port as 2 x / 255 - 1: inputs that differ by x / 32640, at most 0.008 on the [-1, 1] scale (at
x = 255); the FID against these statistics carries it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from distill.data.artifacts import INCEPTION_EXTRACTOR
from distill.metrics.extractors import extract_features, load_extractor
from distill.metrics.fidelity import KEY_METRIC_FID, fid_statistics_to_metric
from distill.metrics.reference import fid_statistics, load_statistics

SIZE = 299  # resizers.py build_resizer("clean"): PIL, bicubic, quantise after, (299, 299), centre crop
EXTRACTOR = INCEPTION_EXTRACTOR


def clean_resize(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> uint8 (N, 3, 299, 299): the centre square, PIL bicubic to 299, quantised."""
    out = np.empty((len(images), 3, SIZE, SIZE), np.uint8)
    for i, img in enumerate(images):
        hwc = np.ascontiguousarray(np.moveaxis(img, 0, -1))
        if hwc.shape[-1] == 1:
            hwc = np.repeat(hwc, 3, axis=-1)
        h, w = hwc.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(hwc[top:top + side, left:left + side])
        out[i] = np.moveaxis(np.asarray(square.resize((SIZE, SIZE), resample=Image.BICUBIC)), -1, 0)
    return out


def inception_features(images: np.ndarray, weights: str | Path, batch_size: int) -> np.ndarray:
    """float64 (N, 2048) pool features of uint8 images (N, C, H, W), preprocessed as the statistics were."""
    return extract_features(torch.from_numpy(clean_resize(images)), load_extractor(EXTRACTOR, str(weights)),
                            batch_size)["fid"].numpy()


def fid_against(features: np.ndarray, stats_path: str | Path) -> float:
    """FID of features (N, D) against the statistics at `stats_path`."""
    if len(features) < 2:
        raise ValueError(f"FID needs at least 2 images (a covariance); got {len(features)}")
    mu_ref, sigma_ref = load_statistics(stats_path)
    if features.shape[1] != len(mu_ref):
        raise ValueError(f"{stats_path} holds {len(mu_ref)}-dimensional statistics; the features are "
                         f"{features.shape[1]}-dimensional: not statistics of this extractor")
    mu, sigma = fid_statistics(torch.from_numpy(features))
    return float(fid_statistics_to_metric({"mu": mu, "sigma": sigma}, {"mu": mu_ref, "sigma": sigma_ref},
                                          verbose=False)[KEY_METRIC_FID])
