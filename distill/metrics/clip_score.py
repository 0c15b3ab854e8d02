"""CLIP score of text-to-image samples, as SFD's sfd-main/clip_score.py computes it: the mean over images of
100 cos(E_image(x_i), E_text(p_i)), image i paired with the prompt it was drawn from (no clamp at 0).

SFD (and DMD2's COCO evaluation) use open_clip's ViT-g-14 with the laion2b_s34b_b88k weights. This suite reads the
same weights in transformers' layout (the Hugging Face repository laion/CLIP-ViT-g-14-laion2B-s34B-b88K ships both),
because open_clip imports torchvision at import time and the only torchvision that resolves beside the suite's torch
is a CUDA build that fails to import. The preprocessing is CLIP's own (the folder's preprocessor_config.json: the
shortest side resized to 224 bicubic, the centre 224 x 224 cropped, normalised), as open_clip's transform does on a
PIL image; the tokenizer is CLIP's BPE, truncated to its context length (open_clip's tokenizer truncates to 77).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm
from transformers import CLIPModel, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

SCALE = 100.0  # clip_score.py: sd_clip_score = 100 * cos


def load_clip(folder: str | Path, device="cpu"):
    """(model, tokenizer, image processor) of a CLIP folder in transformers' layout (save_pretrained)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json: give a CLIP model folder in transformers' layout (for "
                                "SFD's CLIP score: laion/CLIP-ViT-g-14-laion2B-s34B-b88K)")
    model = CLIPModel.from_pretrained(folder).to(device).eval().requires_grad_(False)
    return model, CLIPTokenizer.from_pretrained(folder), CLIPImageProcessorPil.from_pretrained(folder)


@torch.no_grad()
def clip_scores(images: np.ndarray, prompts: Sequence[str], folder: str | Path, batch_size: int = 64, device="cpu",
                progress: bool = False) -> np.ndarray:
    """Each image's 100 cos(image, its prompt): `images` uint8 (N, 3, H, W), `prompts` the N prompts they were drawn
    from, in order."""
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"CLIP score takes uint8 RGB images (N, 3, H, W), got {images.dtype} {images.shape}")
    if len(images) != len(prompts) or len(images) == 0:
        raise ValueError(f"CLIP score pairs each image with its prompt: {len(images)} images, {len(prompts)} prompts")
    model, tokenizer, processor = load_clip(folder, device)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="CLIP score", disable=not progress):
        batch = images[start:start + batch_size]
        pixels = processor([Image.fromarray(x.transpose(1, 2, 0)) for x in batch], return_tensors="pt")
        tokens = tokenizer(list(prompts[start:start + batch_size]), padding="max_length", truncation=True,
                           max_length=tokenizer.model_max_length, return_tensors="pt")
        image = model.get_image_features(pixel_values=pixels["pixel_values"].to(device))
        text = model.get_text_features(input_ids=tokens["input_ids"].to(device),
                                       attention_mask=tokens["attention_mask"].to(device))
        image, text = image.pooler_output, text.pooler_output  # the projected embeddings (transformers 5)
        out.append((SCALE * (image / image.norm(dim=-1, keepdim=True) * (text / text.norm(dim=-1, keepdim=True)))
                    .sum(dim=-1)).double().cpu())
    return torch.cat(out).numpy()
