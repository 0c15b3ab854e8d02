"""Latents and images of a diffusers latent teacher: its `AutoencoderKL` with the scaling factor of its config (SD 1.x
0.18215, SDXL 0.13025), as the pipelines use it (`StableDiffusionPipeline`: image = vae.decode(latents /
scaling_factor)). Methods work on latents; the evaluation protocol reads the decoded images in [-1, 1]."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL


def load_vae(folder: str | Path) -> AutoencoderKL:
    """The autoencoder of a diffusers pipeline folder (its vae/), frozen."""
    if not (Path(folder) / "vae").is_dir():
        raise FileNotFoundError(f"{folder} has no vae/ folder: expected a diffusers pipeline folder")
    return AutoencoderKL.from_pretrained(folder, subfolder="vae").eval().requires_grad_(False)


@torch.no_grad()
def decode(vae: AutoencoderKL, latents: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """Images in [-1, 1] of latents [B, C, h, w], `batch_size` at a time (an image depends on its latents only)."""
    sf = vae.config.scaling_factor
    parts = [vae.decode(chunk.to(vae.dtype) / sf).sample.float().clamp(-1, 1) for chunk in latents.split(batch_size)]
    return torch.cat(parts) if parts else torch.zeros((0, vae.config.out_channels, *latents.shape[2:]))


@torch.no_grad()
def encode(vae: AutoencoderKL, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Latents of images in [-1, 1]: a draw of the encoder's posterior, scaled (the training data of a latent
    method, as diffusers' training scripts encode it)."""
    return vae.encode(images.to(vae.dtype)).latent_dist.sample(generator) * vae.config.scaling_factor
