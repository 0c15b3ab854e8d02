"""Image-caption training data of a latent text-to-image teacher: each image's latents (its teacher's VAE encoding,
`distill encode-captions`) beside its captions, read from disk batch by batch.

A folder holds latents.npy ([N, C, h, w] float16, memory-mapped: MS-COCO train2014's 82,783 images at 512 x 512 are
2.7 GB of SD latents, which a training job does not hold in memory), captions.json (N lists of captions: MS-COCO has
about five per image) and manifest.json (what made them: the images, the annotations, the VAE, the resolution). A
training batch draws images uniformly and one caption of each uniformly, both from the step's generator, for the
whole batch (a rank of a data-parallel run keeps its rows), so a batch does not depend on the number of processes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distill.core.checkpoint import file_sha256
from distill.core.distributed import local_rows
from distill.data.base import DataError

LATENTS, CAPTIONS, MANIFEST = "latents.npy", "captions.json", "manifest.json"
FORMAT = "distill caption latents 1"


@dataclass
class CaptionLatents:
    folder: Path
    latents: np.ndarray  # memory-mapped [N, C, h, w]
    captions: list[list[str]]
    manifest: dict[str, Any]

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def shape(self) -> tuple[int, ...]:
        """The latents' shape (C, h, w)."""
        return tuple(self.latents.shape[1:])

    def draw(self, batch_size: int, gen: torch.Generator) -> tuple[torch.Tensor, list[str]]:
        """(latents [B', C, h, w] float32, one caption of each) of a batch of `batch_size` images drawn from `gen`
        (B' this rank's rows)."""
        rows = local_rows(torch.randint(len(self), (batch_size,), generator=gen))
        picks = local_rows(torch.randint(2**31 - 1, (batch_size,), generator=gen))
        x = torch.from_numpy(np.asarray(self.latents[rows.numpy()], dtype=np.float32))
        if not torch.isfinite(x).all():
            raise DataError(f"{self.folder / LATENTS} holds non-finite latents (rows {sorted(set(rows.tolist()))}): "
                            "encode the images again (distill encode-captions)")
        return x, [self.captions[i][p % len(self.captions[i])] for i, p in zip(rows.tolist(), picks.tolist())]


def vae_digest(folder: str | Path) -> dict[str, str]:
    """sha256 of every file of a pipeline folder's vae/: the identity of the encoder a set of latents came from."""
    vae = Path(folder) / "vae"
    return {p.name: file_sha256(p) for p in sorted(vae.iterdir()) if p.is_file()}


def open_caption_latents(folder: str | Path) -> CaptionLatents:
    """The caption latents of a folder `distill encode-captions` wrote, checked: its files, their sizes agreeing,
    every image with a caption."""
    folder = Path(folder)
    missing = [name for name in (LATENTS, CAPTIONS, MANIFEST) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} is not a caption-latents folder: it lacks {', '.join(missing)}; write one with "
                        "`distill encode-captions` (an unfinished one is resumed by running it again)")
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise DataError(f"{folder / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    try:
        latents = np.load(folder / LATENTS, mmap_mode="r")
    except ValueError as exc:
        raise DataError(f"{folder / LATENTS} is not a readable .npy array ({exc}): encode the images again") from exc
    captions = json.loads((folder / CAPTIONS).read_text())
    if latents.ndim != 4 or len(latents) != len(captions) or len(captions) != manifest.get("images"):
        raise DataError(f"{folder}: {LATENTS} has shape {latents.shape}, {CAPTIONS} {len(captions)} entries and the "
                        f"manifest {manifest.get('images')} images; they must agree: encode the images again")
    empty = [i for i, c in enumerate(captions) if not c or not all(isinstance(t, str) and t.strip() for t in c)]
    if empty:
        raise DataError(f"{folder / CAPTIONS}: images {empty[:5]} have no caption (or an empty one)")
    return CaptionLatents(folder, latents, captions, manifest)


def read_coco_captions(path: str | Path) -> list[tuple[str, list[str]]]:
    """(file name, its captions) of every captioned image of an MS-COCO captions file (captions_train2014.json:
    `images` [{id, file_name}], `annotations` [{image_id, caption}]), in image-id order."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        files = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
        captions: dict[int, list[str]] = {}
        for a in sorted(doc["annotations"], key=lambda a: int(a.get("id", 0))):
            text = str(a["caption"]).strip()
            if text:
                captions.setdefault(int(a["image_id"]), []).append(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not an MS-COCO captions file (images [{{id, file_name}}], annotations "
                        f"[{{image_id, caption}}]): {exc!r}") from exc
    unknown = sorted(set(captions) - set(files))
    if unknown:
        raise DataError(f"{path}: captions of image ids {unknown[:5]} that its images list lacks")
    pairs = [(files[i], captions[i]) for i in sorted(files) if i in captions]
    if not pairs:
        raise DataError(f"{path} holds no captioned image")
    return pairs
