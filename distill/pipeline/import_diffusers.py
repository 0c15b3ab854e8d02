"""Step: a diffusers text-to-image pipeline folder (Stable Diffusion 1.x/2.x, SDXL) as a suite teacher: its UNet's
weights as safetensors and a model.json whose network is {kind: diffusers, folder}, so `distill sample-text`, the
solvers and the methods load it like any teacher (distill/nets/diffusers_unet.py). The folder's files are recorded
at its first import and verified at every later one (distill/data/first_fetch.py): a Hugging Face model publishes no
digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.core.checkpoint import save_weights
from distill.core.provenance import write_record
from distill.data.first_fetch import LOCK, RECORDED, files_of, record_or_verify
from distill.nets.diffusers_unet import denoiser_from_folder



def latent_factor(folder: Path) -> int:
    """The autoencoder's downsampling, 2^(blocks - 1) as diffusers' pipelines compute `vae_scale_factor` (SD, SDXL:
    8, so latents of an H x W image are H/8 x W/8)."""
    config = folder / "vae" / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{folder} has no vae/config.json: expected a diffusers pipeline folder")
    return 2 ** (len(json.loads(config.read_text())["block_out_channels"]) - 1)


def run(name: str, folder: str | Path, out_dir: str | Path, resolution: int, lock: Path = LOCK) -> dict[str, Any]:
    """Import the pipeline at `folder` under the artifact name `name` (its record in the lock, artifacts.lock.json)
    for images of `resolution` pixels a side (SD 1.5: 512, SDXL: 1024)."""
    folder = Path(folder)
    factor = latent_factor(folder)
    if resolution <= 0 or resolution % factor:
        raise ValueError(f"--resolution {resolution}: a positive multiple of {factor} (the autoencoder's "
                         "downsampling)")
    denoiser = denoiser_from_folder({"folder": str(folder)})
    checked = record_or_verify(name, files_of(folder), lock)
    unet = denoiser.net
    latent = resolution // factor
    config = {"kind": "teacher", "source": f"diffusers pipeline folder {folder}", "artifact": name,
              "digest": RECORDED, "parameterization": "diffusers",
              "data": {"shape": [int(unet.config.in_channels), latent, latent], "num_classes": 0,
                       "latent": True, "resolution": resolution},
              "network": {"kind": "diffusers", "folder": str(folder), "prediction_type": denoiser.prediction_type,
                          "sdxl": (folder / "text_encoder_2").is_dir()}}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(out_dir / "model.safetensors", {k: v.contiguous() for k, v in unet.state_dict().items()},
                 {**config, "status": "completed"})
    summary = {"status": "completed", "imported": name, "checked": checked, "wall_seconds": None, "steps": 0,
               "parameters": sum(p.numel() for p in unet.parameters())}
    write_record(out_dir / "summary.json", summary, {"weights": out_dir / "model.safetensors"})
    return summary
