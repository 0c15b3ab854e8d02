"""Step: train one teacher of the Table 1 grid (a parameterization x a loss weighting x a seed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from distill.core import distributed
from distill.core.checkpoint import save_weights
from distill.core.provenance import write_record
from distill.core.denoiser import NetworkDenoiser
from distill.core.training import LossFn, TrainConfig, precision_record, train
from distill.data import load_dataset
from distill.methods.teacher import make_teacher_loss
from distill.pipeline.common import build_denoiser, setup_torch

WEIGHTS = "model.safetensors"
SUMMARY = "summary.json"


def run(cfg: dict[str, Any], parameterization: str, weighting: str, seed: int, out_dir: str | Path,
        threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    device = setup_torch(threads, cfg["device"])
    out_dir = Path(out_dir)
    data = load_dataset(cfg["data"])
    denoiser, model_cfg, loss_fn = teacher_step(cfg, data, parameterization, weighting, seed, device)
    train_cfg = TrainConfig.from_params({**cfg["teacher"], "precision": cfg["precision"]}, seed)
    result, weights = train(denoiser.net, loss_fn, train_cfg, out_dir,
                            desc=f"teacher {parameterization}/{weighting}/s{seed}", progress=progress,
                            fingerprint=model_cfg)
    summary = {**result.summary(), "parameterization": parameterization, "weighting": weighting, "seed": seed,
               "profile": cfg["profile"], "num_params": sum(p.numel() for p in denoiser.net.parameters())}
    if distributed.is_main():  # rank 0 writes the results of a data-parallel run
        save_weights(out_dir / WEIGHTS, weights, {**model_cfg, "status": result.status})
        write_record(out_dir / SUMMARY, summary, {"weights": out_dir / WEIGHTS})
    return summary


def teacher_step(cfg: dict[str, Any], data, parameterization: str, weighting: str, seed: int,
                 device: torch.device | str = "cpu") -> tuple[NetworkDenoiser, dict[str, Any], LossFn]:
    """A freshly initialised teacher (seeded), its saved config and its loss (PD Eq. 2 with the weighting): what
    `run` trains and the throughput benchmarks time."""
    model_cfg = {
        "kind": "teacher", "profile": cfg["profile"], "parameterization": parameterization, "weighting": weighting,
        "seed": seed, "network": cfg["network"], "teacher": cfg["teacher"],
        "data": {**cfg["data"], "shape": list(data.shape), "num_classes": data.num_classes},
        **precision_record(cfg["precision"]),
    }
    torch.manual_seed(seed)
    denoiser = build_denoiser(model_cfg).to(device)
    labels = data.label_tensor()
    loss_fn = make_teacher_loss(denoiser, data.model_tensor().to(device), None if labels is None else labels.to(device),
                                cfg["teacher"]["batch_size"], weighting, cfg["teacher"]["random_flip"],
                                cfg["teacher"].get("label_dropout") or 0.0,
                                data.num_classes if cfg["network"].get("null_label") else None)
    return denoiser, model_cfg, loss_fn
