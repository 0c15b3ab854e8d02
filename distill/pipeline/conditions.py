"""The conditions a training step draws for its teacher's inputs: random class labels for a class-conditional
teacher, random prompts of a prompt file encoded by a text-to-image teacher's own text encoders (SFD's sfd-main
training loop draws `random.sample(sample_captions, batch)` from the MS-COCO captions so), or none; and the training
batches (x, conditions) of the methods that draw x from data: an in-memory data set's, or, for a text-to-image
teacher, its caption latents (`distill encode-captions`) with each image's caption encoded by the teacher.

Each draw takes the step's generator, draws for the whole batch and keeps this rank's rows
(distill.core.distributed.local_rows), so a batch's conditions do not depend on the number of processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from distill.core.distributed import local_rows
from distill.data import load_dataset
from distill.data.caption_latents import open_caption_latents, vae_digest
from distill.data.prompts import read_prompts
from distill.methods.batches import Batches, dataset_batches
from distill.nets import prompt_encoder

Draw = Callable[[torch.Generator], "dict[str, torch.Tensor] | None"]


def is_text_to_image(model_cfg: dict[str, Any]) -> bool:
    """A diffusers text-to-image teacher (distill import-diffusers), or a student of one."""
    return model_cfg["network"]["kind"] == "diffusers"


def prompt_encoder_of(model_cfg: dict[str, Any], device="cpu"):
    """The text encoders of a text-to-image model's pipeline folder, frozen on `device`."""
    network, resolution = model_cfg["network"], model_cfg["data"]["resolution"]
    encoder = prompt_encoder(network, (resolution, resolution) if network["sdxl"] else None)
    for module in encoder.encoders:
        module.to(device).requires_grad_(False)
    return encoder


def training_prompts(model_cfg: dict[str, Any], prompts: str | Path | None, device="cpu"):
    """(prompts, the teacher's prompt encoder) for a text-to-image teacher, which needs a prompt file; None for any
    other teacher, to which a prompt file is an error, never ignored."""
    if not is_text_to_image(model_cfg):
        if prompts is not None:
            raise ValueError(f"--prompts {prompts}: the teacher is not a text-to-image model (its network is "
                             f"{model_cfg['network']['kind']!r}); drop --prompts")
        return None
    if prompts is None:
        raise ValueError("a text-to-image teacher trains on prompts: give --prompts (one prompt per line, or a CSV "
                         "with a 'text' column such as MS-COCO_val2014_30k_captions.csv)")
    return read_prompts(prompts), prompt_encoder_of(model_cfg, device)


def training_conditions(model_cfg: dict[str, Any], batch_size: int, device="cpu",
                        prompts: str | Path | None = None, source=None) -> Draw:
    """The draw of one training batch's conditions for a teacher of config `model_cfg`: `batch_size` prompts of the
    file `prompts` (a text-to-image teacher, which needs one) or class labels (a class-conditional teacher), else
    none. `source`: training_prompts' result, when the caller needs the encoder too (it is loaded once)."""
    source = source if source is not None else training_prompts(model_cfg, prompts, device)
    if source is not None:
        texts, encoder = source

        def draw_prompts(gen: torch.Generator):
            rows = local_rows(torch.randint(len(texts), (batch_size,), generator=gen))
            return {k: v.to(device) for k, v in encoder([texts[i] for i in rows.tolist()]).items()}

        return draw_prompts
    num_classes = model_cfg["data"]["num_classes"]
    if not num_classes:
        return lambda gen: None
    return lambda gen: {"label": local_rows(torch.randint(num_classes, (batch_size,), generator=gen)).to(device)}


@dataclass
class TrainingData:
    """A training step's batches and, for a text-to-image teacher, the unconditional prompt's conditions (the null
    branch of its classifier-free guidance)."""
    batches: Batches
    null: dict[str, torch.Tensor] | None = None


def caption_batches(model_cfg: dict[str, Any], captions: str | Path, batch_size: int, random_flip: bool,
                    device="cpu") -> TrainingData:
    """Batches of caption latents for a text-to-image model: latents drawn from the folder `captions`, each with one
    of its captions encoded by the model's own text encoders; checked against the model (the same VAE, the same
    latent shape)."""
    if random_flip:
        raise ValueError("random_flip flips images before they are encoded; caption latents are encoded already: set "
                         "the method's train.random_flip to false for a text-to-image teacher")
    data = open_caption_latents(captions)
    shape = tuple(model_cfg["data"]["shape"])
    if data.shape != shape:
        raise ValueError(f"{captions} holds latents of shape {data.shape}; the teacher's are {shape}: encode the "
                         "images with this teacher (distill encode-captions --teacher)")
    if data.manifest["vae"] != vae_digest(model_cfg["network"]["folder"]):
        raise ValueError(f"{captions} was encoded by another VAE than the one of {model_cfg['network']['folder']}: "
                         "encode the images with this teacher (distill encode-captions --teacher)")
    encoder = prompt_encoder_of(model_cfg, device)

    def draw(gen: torch.Generator):
        x, texts = data.draw(batch_size, gen)
        return x.to(device), {k: v.to(device) for k, v in encoder(texts).items()}

    return TrainingData(draw, {k: v.to(device) for k, v in encoder.null(1).items()})


def training_data(model_cfg: dict[str, Any], data_cfg: dict[str, Any], batch_size: int, random_flip: bool,
                  device="cpu", captions: str | Path | None = None) -> TrainingData:
    """The batches of a method that draws x from data: a text-to-image model's caption latents (`captions`, which it
    needs), else the in-memory data set of `data_cfg` (to which `captions` is an error, never ignored)."""
    if is_text_to_image(model_cfg):
        if captions is None:
            raise ValueError("a text-to-image teacher trains on its caption latents: give --captions, the folder "
                             "`distill encode-captions` wrote")
        return caption_batches(model_cfg, captions, batch_size, random_flip, device)
    if captions is not None:
        raise ValueError(f"--captions {captions}: the teacher is not a text-to-image model (its network is "
                         f"{model_cfg['network']['kind']!r}); drop --captions")
    return TrainingData(dataset_batches(load_dataset(data_cfg), batch_size, random_flip, device))
