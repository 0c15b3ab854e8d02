"""Helpers shared by pipeline steps: device and threads, loading a trained denoiser, file hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from distill.core import distributed, gpu_slots
from distill.core.checkpoint import load_into, load_weights
from distill.core.denoiser import NetworkDenoiser
from distill.core.parameterization import output_channels
from distill.nets import IMPORTED_NETWORKS, build_network, imported_denoiser


def setup_torch(threads: int | None, device: str = "auto") -> torch.device:
    """Honour the job's thread budget (Snakemake `threads:`) and pick the device; under torchrun, join the process
    group and take this rank's GPU (distill/core/distributed.py)."""
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("params.yaml asks for device 'cuda', but no CUDA device is available; use 'auto' or 'cpu'")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not gpu_slots.chosen_elsewhere() and torch.cuda.device_count() > 1:
        (gpu,) = gpu_slots.acquire(1, torch.cuda.device_count())  # one GPU of a multi-GPU machine no job holds
        torch.cuda.set_device(gpu)
        return torch.device("cuda", gpu)
    return distributed.init(device)


def build_denoiser(model_cfg: dict[str, Any]) -> NetworkDenoiser:
    """A denoiser with freshly initialised weights, from the config saved beside a model's weights; an imported
    network (a kind of distill.nets.IMPORTED_NETWORKS: an EDM pickle) is rebuilt from its files."""
    if model_cfg["network"]["kind"] in IMPORTED_NETWORKS:
        return imported_denoiser(model_cfg["network"])
    shape = tuple(model_cfg["data"]["shape"])
    net = build_network(model_cfg["network"], shape, output_channels(model_cfg["parameterization"], shape[0]),
                        model_cfg["data"]["num_classes"])
    return NetworkDenoiser(net, model_cfg["parameterization"])


def load_denoiser(weights_path: str | Path, device: torch.device | str = "cpu") -> tuple[NetworkDenoiser, dict[str, Any]]:
    tensors, model_cfg = load_weights(weights_path)
    denoiser = build_denoiser(model_cfg)
    load_into(denoiser.net, tensors, weights_path)
    return denoiser.to(device).eval(), model_cfg

