"""PD Table 1's benchmarked step: one teacher update of the grid's first cell (its training is the shared step
distill/pipeline/train_teacher.py)."""

from __future__ import annotations

from distill.core.training import Part, SINGLE, TrainConfig, one_loss_step
from distill.data import load_dataset
from distill.pipeline.train_teacher import teacher_step
from distill.registry import TrainingStep


def training_steps(cfg, device="cpu") -> dict[str, TrainingStep]:
    """One teacher update (PD Eq. 2 loss of a batch, backward, clipping, AdamW, EMA) of the grid's first cell."""
    data = load_dataset(cfg["data"])
    t, grid = cfg["teacher"], cfg["table1"]
    denoiser, _, loss_fn = teacher_step(cfg, data, grid["parameterizations"][0], grid["weightings"][0], 0, device)
    return {"teacher": TrainingStep({SINGLE: Part(denoiser.net, TrainConfig.from_params(t))},
                                    one_loss_step(denoiser.net, loss_fn, t["batch_size"]), t["batch_size"],
                                    "1 forward + 1 backward")}
