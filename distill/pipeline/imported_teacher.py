"""An imported teacher's network where the throughput benchmarks and `distill gpu-hours --measure` time a method's
training step on it: an EDM pickle or a diffusers pipeline imported under results/<profile>/teachers/<artifact>, and,
for a text-to-image pipeline, batches of its latents' shape with a prompt's conditions (a step's cost does not depend
on the latents' values or the caption)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from distill.experiment_views import text_to_image_teacher
from distill.pipeline.common import load_denoiser
from distill.pipeline.conditions import TrainingData, is_text_to_image, prompt_encoder_of

TIMING_PROMPT = "a photograph of a cat sitting on a wooden table"


def artifact_of(teacher: Mapping[str, Any]) -> str | None:
    """The artifact an imported teacher section names ({edm: ...} or {diffusers: ...}), else None."""
    return teacher.get("edm") or teacher.get("diffusers")


def pipeline_of(cfg: Mapping[str, Any], method: str) -> str | None:
    """The pipeline of the text_to_image experiment whose `method` section the profile holds, else None."""
    teacher = text_to_image_teacher(cfg, method)
    return None if teacher is None else teacher["diffusers"]


def load_imported(cfg: Mapping[str, Any], artifact: str, device="cpu"):
    """(the frozen denoiser, its model config) of an imported teacher of the profile; a clear error before its
    import."""
    path = Path(f"results/{cfg['profile']}/teachers/{artifact}/model.safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: import the teacher first (`snakemake --config profile={cfg['profile']} -- "
                                f"{path}`)")
    teacher, model_cfg = load_denoiser(path, device)
    return teacher.requires_grad_(False), model_cfg


def timing_data(model_cfg: dict[str, Any], batch_size: int, device="cpu") -> TrainingData:
    """Training batches of a text-to-image model for timing: N(0, I) latents of its shape, each with one prompt's
    conditions, and the unconditional prompt's (the null branch of its guidance)."""
    if not is_text_to_image(model_cfg):
        raise ValueError("timing batches of latents and prompts are for a text-to-image model")
    encoder, shape = prompt_encoder_of(model_cfg, device), tuple(model_cfg["data"]["shape"])
    cond = {k: v.to(device) for k, v in encoder([TIMING_PROMPT] * batch_size).items()}

    def draw(gen: torch.Generator):
        return torch.randn((batch_size, *shape), generator=gen).to(device), cond

    return TrainingData(draw, {k: v.to(device) for k, v in encoder.null(1).items()})


def timing_prompts(model_cfg: dict[str, Any], device="cpu"):
    """training_conditions' prompt source (prompts, encoder) for timing a text-to-image model's step."""
    return [TIMING_PROMPT], prompt_encoder_of(model_cfg, device)
