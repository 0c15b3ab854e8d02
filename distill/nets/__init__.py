"""Denoiser networks, built by name from the `network` section of params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from distill.nets.mlp import MLP
from distill.nets.unet import UNet


def build_network(cfg: Mapping[str, Any], data_shape: tuple[int, ...], out_channels: int, num_classes: int = 0) -> nn.Module:
    """Build the network named by cfg['kind'] ('unet' or 'mlp') for data of shape data_shape = (C, H, W) or (D,)."""
    kwargs = {k: v for k, v in cfg.items() if k != "kind"}
    if cfg["kind"] == "unet":
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ValueError(f"the U-Net needs square images (C, H, H); the data has shape {data_shape}")
        return UNet(data_shape[0], out_channels, data_shape[1], num_classes=num_classes, **kwargs)
    if cfg["kind"] == "mlp":
        if len(data_shape) != 1:
            raise ValueError(f"the MLP takes flat data (D,); the data has shape {data_shape}")
        return MLP(data_shape[0], out_channels, num_classes=num_classes, emb_ch=kwargs.pop("emb_ch") or 64, **kwargs)
    raise ValueError(f"unknown network kind {cfg['kind']!r}; expected 'unet' or 'mlp'")
