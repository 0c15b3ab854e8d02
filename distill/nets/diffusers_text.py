"""Prompts as the conditions of a diffusers text-to-image teacher (distill/nets/diffusers_unet.py).

Stable Diffusion 1.x/2.x: one CLIP text encoder; "text" is its last hidden state of the prompt padded to the
tokenizer's length (diffusers' `StableDiffusionPipeline.encode_prompt`), and the unconditional branch is the empty
prompt. SDXL: two encoders; "text" is their penultimate hidden states concatenated, "text_embeds" the pooled
(projected) output of the second, "time_ids" (original size, crop top-left, target size)
(`StableDiffusionXLPipeline.encode_prompt` and `_get_add_time_ids`); its unconditional branch is zeros when the
pipeline's `force_zeros_for_empty_prompt` is set (the released SDXL base), else the empty prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer


def _tokens(tokenizer, prompts: Sequence[str]) -> torch.Tensor:
    return tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


@dataclass
class PromptEncoder:
    """Encodes prompts into the per-sample conditions of its teacher: SD with one (tokenizer, encoder) pair, SDXL with
    two (`size`: SDXL's image size (height, width) for its time ids)."""
    tokenizers: Sequence
    encoders: Sequence[nn.Module]
    size: tuple[int, int] | None = None  # SDXL only
    zeros_for_empty_prompt: bool = False  # SDXL's force_zeros_for_empty_prompt

    def __post_init__(self):
        if len(self.tokenizers) != len(self.encoders) or len(self.encoders) not in (1, 2):
            raise ValueError("a prompt encoder takes one (SD) or two (SDXL) tokenizer and text-encoder pairs, got "
                             f"{len(self.tokenizers)} tokenizer(s) and {len(self.encoders)} encoder(s)")
        if (len(self.encoders) == 2) != (self.size is not None):
            raise ValueError("SDXL's two encoders need its image size (height, width) for the time ids; SD takes none")

    @torch.no_grad()
    def __call__(self, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        if len(self.encoders) == 1:
            (tok,), (enc,) = self.tokenizers, self.encoders
            return {"text": enc(_tokens(tok, prompts).to(enc.device))[0]}
        hidden, pooled = [], None
        for tok, enc in zip(self.tokenizers, self.encoders):
            out = enc(_tokens(tok, prompts).to(enc.device), output_hidden_states=True)
            pooled = out[0] if out[0].ndim == 2 else pooled  # the projected pooled output of the second encoder
            hidden.append(out.hidden_states[-2])
        h, w = self.size
        time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=hidden[-1].dtype).expand(len(prompts), 6)
        return {"text": torch.cat(hidden, dim=-1), "text_embeds": pooled, "time_ids": time_ids}

    def null(self, batch: int) -> dict[str, torch.Tensor]:
        """The unconditional branch's conditions for `batch` samples."""
        empty = self([""])
        if self.zeros_for_empty_prompt:
            empty = {k: (v if k == "time_ids" else torch.zeros_like(v)) for k, v in empty.items()}
        return {k: v.expand(batch, *v.shape[1:]) for k, v in empty.items()}


def prompt_encoder_from_folder(folder: str | Path, size: tuple[int, int] | None = None) -> PromptEncoder:
    """The prompt encoder of a diffusers pipeline folder: SD's tokenizer/ and text_encoder/, or, where the folder has
    text_encoder_2/ (SDXL), both pairs, with the pipeline's force_zeros_for_empty_prompt (model_index.json) and the
    image size `size` for the time ids."""
    folder = Path(folder)
    if not (folder / "text_encoder").is_dir() or not (folder / "tokenizer").is_dir():
        raise FileNotFoundError(f"{folder} has no tokenizer/ and text_encoder/: not a text-to-image pipeline folder")
    tokenizers = [CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer")]
    encoders = [CLIPTextModel.from_pretrained(folder, subfolder="text_encoder").eval()]
    if not (folder / "text_encoder_2").is_dir():
        return PromptEncoder(tokenizers, encoders)
    if size is None:
        raise ValueError("an SDXL folder needs the image size (height, width) for its time ids")
    tokenizers.append(CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer_2"))
    encoders.append(CLIPTextModelWithProjection.from_pretrained(folder, subfolder="text_encoder_2").eval())
    index = json.loads((folder / "model_index.json").read_text())
    return PromptEncoder(tokenizers, encoders, size, zeros_for_empty_prompt=bool(index.get(
        "force_zeros_for_empty_prompt", True)))
