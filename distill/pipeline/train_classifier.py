"""Step: train the domain classifier whose features define FID on the embedded data; record held-out accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.core.checkpoint import save_weights
from distill.core.provenance import write_record
from distill.core.training import TrainConfig
from distill.data import load_dataset
from distill.metrics.classifier import accuracy, train_classifier
from distill.pipeline.common import setup_torch


def run(cfg: dict[str, Any], out_dir: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    setup_torch(threads, "cpu")
    out_dir = Path(out_dir)
    c = cfg["classifier"]
    data = load_dataset({**cfg["data"], "conditional": True})
    if data.kind != "image":
        raise ValueError(f"the domain classifier needs an image data set; {data.name} holds points")
    train_set, held_out = data.split(c["holdout_fraction"], c["split_seed"])
    net_cfg = {"in_channels": data.shape[0], "resolution": data.shape[-1], "num_classes": data.num_classes,
               "width": c["width"], "feature_dim": c["feature_dim"], "max_shift": c["max_shift"]}
    net, result = train_classifier(train_set, net_cfg, TrainConfig.from_params(c["train"], c["split_seed"]),
                                   out_dir, progress=progress)
    metrics = {**result.summary(), "dataset": data.name, "train_examples": len(train_set),
               "held_out_examples": len(held_out), "held_out_accuracy": accuracy(net, held_out),
               "train_accuracy": accuracy(net, train_set)}
    save_weights(out_dir / "model.safetensors", net.state_dict(),
                 {"kind": "classifier", "profile": cfg["profile"], "classifier": net_cfg, "data": cfg["data"]})
    write_record(out_dir / "metrics.json", metrics, {"weights": out_dir / "model.safetensors"})
    return metrics
