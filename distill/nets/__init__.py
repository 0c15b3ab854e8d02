"""Denoiser networks by name: the suite's own, built from the `network` section of params.yaml (NETWORKS), and the
imported ones, rebuilt with their own preconditioning from the files a model.json names (IMPORTED_NETWORKS)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from distill.nets.mlp import MLP
from distill.nets.unet import UNet


def _unet(data_shape: tuple[int, ...], out_channels: int, num_classes: int, **kwargs) -> nn.Module:
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ValueError(f"the U-Net needs square images (C, H, H); the data has shape {data_shape}")
    return UNet(data_shape[0], out_channels, data_shape[1], num_classes=num_classes, **kwargs)


def _mlp(data_shape: tuple[int, ...], out_channels: int, num_classes: int, **kwargs) -> nn.Module:
    if len(data_shape) != 1:
        raise ValueError(f"the MLP takes flat data (D,); the data has shape {data_shape}")
    return MLP(data_shape[0], out_channels, num_classes=num_classes, emb_ch=kwargs.pop("emb_ch") or 64, **kwargs)


# Every network by its params.yaml name (network.kind): (data shape, output channels, classes, its settings) -> module.
NETWORKS: dict[str, Callable[..., nn.Module]] = {"unet": _unet, "mlp": _mlp}


def build_network(cfg: Mapping[str, Any], data_shape: tuple[int, ...], out_channels: int, num_classes: int = 0) -> nn.Module:
    """Build the network named by cfg['kind'] (a key of NETWORKS) for data of shape data_shape = (C, H, W) or (D,)."""
    if cfg["kind"] not in NETWORKS:
        raise ValueError(f"unknown network kind {cfg['kind']!r}; expected one of {sorted(NETWORKS)}")
    return NETWORKS[cfg["kind"]](tuple(data_shape), out_channels, num_classes,
                                 **{k: v for k, v in cfg.items() if k != "kind"})


# Every imported network by its model.json name (network.kind): "module:function" of its network section -> the
# denoiser it is (a module with a .net, called as denoise(z_t, t, cond)), imported by name when such a network is
# built, so that neither EDM's unpickler nor diffusers loads for anything else. An imported network takes none of
# the suite's network settings.
IMPORTED_NETWORKS: dict[str, str] = {
    "edm": "distill.nets.edm_pickle:denoiser_from_pickle",  # an NVlabs EDM pickle (distill/pipeline/import_edm.py)
    "diffusers": "distill.nets.diffusers_unet:denoiser_from_folder",  # a diffusers pipeline folder (SD, SDXL)
}


def _by_name(kind: str, table: Mapping[str, str], what: str) -> Callable[..., Any]:
    """The function that `table` names for `kind`, imported now (a library of the latent extra only where used)."""
    if kind not in table:
        raise ValueError(f"unknown {what} kind {kind!r}; expected one of {sorted(table)}")
    module, _, function = table[kind].partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"a {kind!r} {what} needs {exc.name}, which is not installed: install the "
                                  "suite with its latent extra (pip install -e '.[latent]'; tools/install.sh does)"
                                  ) from exc


def imported_denoiser(cfg: Mapping[str, Any]) -> nn.Module:
    """The imported network of a model's network section ({kind: <IMPORTED_NETWORKS key>, ...})."""
    return _by_name(cfg["kind"], IMPORTED_NETWORKS, "network")(cfg)


# The prompt encoders of the imported networks that take prompts, by network kind (the text encoders of a diffusers
# folder: distill/nets/diffusers_text.py), imported only when a model that takes prompts runs.
PROMPT_ENCODERS: dict[str, str] = {"diffusers": "distill.nets.diffusers_text:prompt_encoder_from_folder"}


def prompt_encoder(cfg: Mapping[str, Any], size: tuple[int, int] | None = None):
    """The prompt encoder of a model's network section (its pipeline folder's text encoders; `size` SDXL's image
    size for its time ids)."""
    return _by_name(cfg["kind"], PROMPT_ENCODERS, "prompt encoder")(cfg["folder"], size)


# The autoencoders of the imported networks that work in latent space, by network kind (a diffusers folder's
# AutoencoderKL: distill/nets/diffusers_vae.py), imported only when one is used.
AUTOENCODERS: dict[str, str] = {"diffusers": "distill.nets.diffusers_vae:load_vae"}


def autoencoder(cfg: Mapping[str, Any]):
    """The autoencoder of a model's network section (its pipeline folder's vae/), frozen."""
    return _by_name(cfg["kind"], AUTOENCODERS, "autoencoder")(cfg["folder"])
