"""Step: encode an image-caption set with a latent teacher's VAE (`distill encode-captions`), the training data of
the methods that draw x from data (PD, guided distillation, CD) on a text-to-image teacher
(distill/data/caption_latents.py).

Each image is read as diffusers' text-to-image training script reads it (examples/text_to_image/
train_text_to_image.py: Resize(resolution, bilinear) of the shorter side, CenterCrop(resolution), pixels to [-1, 1]),
then encoded: latents = (mean + std eps_i) scaling_factor, one draw of the VAE's posterior as the script's
`latent_dist.sample()`, eps_i from image i's own generator (seed + i), so the latents do not depend on the batch size.
The latents are stored in float16, written in chunks into a hidden work folder with the count done, so a killed run
resumes where it stopped; the folder is renamed into place whole at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from distill.core import owned_folder
from distill.core.checkpoint import file_sha256, load_weights
from distill.data.base import DataError
from distill.data.caption_latents import CAPTIONS, FORMAT, LATENTS, MANIFEST, read_coco_captions, vae_digest
from distill.nets.diffusers_vae import load_vae
from distill.pipeline.common import setup_torch

KIND = "encode-captions"
PROGRESS = "progress.json"
OWN = {LATENTS, CAPTIONS, MANIFEST}.__contains__


def load_image(path: Path, resolution: int) -> torch.Tensor:
    """[3, R, R] in [-1, 1]: the shorter side resized to R (PIL bilinear, as torchvision's Resize of a PIL image), then
    the centre R x R (torchvision's CenterCrop offsets)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        short, long = (w, h) if w <= h else (h, w)
        size = (resolution, int(resolution * long / short))
        im = im.resize(size if w <= h else size[::-1], Image.BILINEAR)
        w, h = im.size
        left, top = int(round((w - resolution) / 2.0)), int(round((h - resolution) / 2.0))
        im = im.crop((left, top, left + resolution, top + resolution))
        x = torch.from_numpy(np.asarray(im, dtype=np.float32).copy()).permute(2, 0, 1)
    return x / 127.5 - 1.0


def _write_json(path: Path, record: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


def run(teacher_path: str | Path, images: str | Path, annotations: str | Path, out_dir: str | Path,
        batch_size: int = 16, seed: int = 0, threads: int | None = None, device_name: str = "auto",
        progress: bool = True) -> dict[str, Any]:
    """Encode every captioned image of the MS-COCO captions file `annotations` (its files under `images`) with the
    VAE of the text-to-image teacher `teacher_path` (import-diffusers' model.safetensors) into `out_dir`."""
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    _, model_cfg = load_weights(teacher_path)
    if model_cfg["network"]["kind"] != "diffusers":
        raise ValueError(f"{teacher_path} is not a text-to-image teacher (its network is "
                         f"{model_cfg['network']['kind']!r}); give the model.safetensors of `distill import-diffusers`")
    folder, resolution = model_cfg["network"]["folder"], int(model_cfg["data"]["resolution"])
    shape = tuple(model_cfg["data"]["shape"])
    pairs = read_coco_captions(annotations)
    images = Path(images)
    missing = [name for name, _ in pairs if not (images / name).is_file()]
    if missing:
        raise DataError(f"{len(missing)} of the {len(pairs)} captioned images of {annotations} are not under {images} "
                        f"(first: {', '.join(missing[:3])}); give the folder that holds them (--images)")
    out_dir = Path(out_dir)
    owned_folder.check(out_dir, KIND, OWN)
    fingerprint = {"format": FORMAT, "images": len(pairs), "annotations": str(annotations),
                   "annotations_sha256": file_sha256(annotations), "teacher": str(teacher_path),
                   "vae": vae_digest(folder), "resolution": resolution, "shape": list(shape), "seed": seed,
                   "dtype": "float16", "preprocessing": "resize shorter side (bilinear), centre crop, [-1, 1]",
                   "posterior": "mean + std * eps_i, eps_i ~ N(0, I) from seed + i; times the VAE's scaling_factor"}
    work = out_dir.with_name(f".{out_dir.name}.tmp")
    state = json.loads((work / PROGRESS).read_text()) if (work / PROGRESS).is_file() else None
    if state is not None and state.get("fingerprint") != fingerprint:
        raise ValueError(f"{work} holds an unfinished encoding of other settings (other images, annotations, VAE "
                         "or seed); remove it to start again, or rerun with the settings it was started with")
    work.mkdir(parents=True, exist_ok=True)
    n, done = len(pairs), 0 if state is None else int(state["done"])
    latents = np.lib.format.open_memmap(work / LATENTS, mode="r+" if state else "w+", dtype=np.float16,
                                        shape=(n, *shape))
    device = setup_torch(threads, device_name)
    vae = load_vae(folder).to(device)
    sf = vae.config.scaling_factor
    with tqdm(total=n, initial=done, desc="encode captions", disable=not progress) as bar:
        for start in range(done, n, batch_size):
            names = [name for name, _ in pairs[start:start + batch_size]]
            x = torch.stack([load_image(images / name, resolution) for name in names]).to(device)
            with torch.no_grad():
                dist = vae.encode(x.to(vae.dtype)).latent_dist
            eps = torch.stack([torch.randn(dist.mean.shape[1:], generator=torch.Generator().manual_seed(seed + i))
                               for i in range(start, start + len(names))]).to(device)
            z = ((dist.mean + dist.std * eps) * sf).float().cpu()
            if tuple(z.shape[1:]) != shape:
                raise ValueError(f"the VAE makes latents of shape {tuple(z.shape[1:])}, the teacher expects {shape}")
            if not torch.isfinite(z).all():
                raise DataError(f"the VAE gave non-finite latents for {', '.join(names)}: check those images")
            latents[start:start + len(names)] = z.numpy().astype(np.float16)
            latents.flush()
            _write_json(work / PROGRESS, {"fingerprint": fingerprint, "done": start + len(names)})
            bar.update(len(names))
    del latents
    (work / CAPTIONS).write_text(json.dumps([caps for _, caps in pairs]) + "\n")
    _write_json(work / MANIFEST, fingerprint)
    (work / PROGRESS).unlink()
    owned_folder.finish(work, out_dir, KIND, OWN)
    return {"images": n, "captions": sum(len(c) for _, c in pairs), "shape": list(shape)}
