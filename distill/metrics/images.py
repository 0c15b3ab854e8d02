"""Checks on images handed to a metric: dtype, range, shape, channels, finiteness, resolution, count.

Metrics take uint8 images [N, C, H, W] (C = 1 or 3). Float images are ambiguous ([0, 1] and [-1, 1] images both
exist, and a [0, 1] image read as [-1, 1] gives a plausible, wrong FID), so they are accepted only with their range
named (FLOAT_RANGES), then mapped to [-1, 1] and converted exactly as generated samples are
(`distill.data.images_to_uint8`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from distill.data import images_to_uint8


# The names a float image range is given by (`--range` of `distill fid`), and the interval each stands for.
FLOAT_RANGES = {"signed": (-1.0, 1.0), "unit": (0.0, 1.0), "byte": (0.0, 255.0)}


class MetricInputError(ValueError):
    """Images handed to a metric are unusable; the message names the problem and the fix."""


def as_uint8_images(images, what: str = "images", expected_shape: Optional[tuple[int, ...]] = None,
                    min_count: int = 2, value_range: Optional[str] = None) -> torch.Tensor:
    """Validate and return uint8 [N, C, H, W]; raise MetricInputError naming what is wrong. Float images need
    `value_range`, a key of FLOAT_RANGES."""
    x = torch.from_numpy(np.asarray(images)) if not torch.is_tensor(images) else images
    if x.ndim != 4:
        raise MetricInputError(f"{what}: expected a batch [N, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3):
        hint = " (channels last? transpose to [N, C, H, W])" if x.shape[-1] in (1, 3) else ""
        raise MetricInputError(f"{what}: expected 1 or 3 channels in dimension 1, got shape {tuple(x.shape)}{hint}")
    if x.dtype.is_floating_point:
        if not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
            raise MetricInputError(f"{what}: {bad} image(s) contain NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if value_range is None:
            raise MetricInputError(f"{what}: float images (values in [{lo:.3g}, {hi:.3g}]) are ambiguous: [0, 1] and "
                                   "[-1, 1] images both exist. Give uint8 [0, 255] images, or name the range: "
                                   "--range signed ([-1, 1]), unit ([0, 1]) or byte ([0, 255])")
        if value_range not in FLOAT_RANGES:
            raise MetricInputError(f"{what}: unknown float range {value_range!r}; expected one of {list(FLOAT_RANGES)}")
        low, high = FLOAT_RANGES[value_range]
        tol = 1e-6 * (high - low)
        if lo < low - tol or hi > high + tol:
            raise MetricInputError(f"{what}: float values span [{lo:.3g}, {hi:.3g}], outside the range {value_range} "
                                   f"[{low:g}, {high:g}] they were declared in; declare the right range")

        x = images_to_uint8((x.double() - low) / (high - low) * 2 - 1)
    elif value_range is not None:  # it would be ignored: integer images have one range
        raise MetricInputError(f"{what}: --range {value_range} names the range of float images, but these are "
                               f"{str(x.dtype).replace('torch.', '')} [0, 255]; drop --range")
    if not x.dtype.is_floating_point and x.dtype != torch.uint8:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise MetricInputError(f"{what}: integer values span [{lo}, {hi}]; expected uint8 [0, 255]")
        x = x.to(torch.uint8)
    if expected_shape is not None and tuple(x.shape[1:]) != tuple(expected_shape):
        raise MetricInputError(f"{what}: images are {tuple(x.shape[1:])} (C, H, W) but the reference statistics were "
                               f"computed on {tuple(expected_shape)}; use matching images or recompute the reference")
    if len(x) < min_count:
        raise MetricInputError(f"{what}: {len(x)} images, but the protocol needs at least {min_count}")
    return x.contiguous()
