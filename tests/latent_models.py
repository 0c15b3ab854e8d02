"""Tiny random Stable Diffusion and SDXL pipelines, built in code and saved in diffusers' own layout (no hub): the
sizes of diffusers' pipeline tests, a tokenizer of a small vocabulary written here; an MS-COCO-format caption set and
the sections of the methods that train on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import (AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline,
                       UNet2DConditionModel)
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

MAX_TOKENS = 16


def tokenizer(folder: Path) -> CLIPTokenizer:
    """A CLIP BPE tokenizer over single characters (no merges): every word is its letters, the last with '</w>'."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789.,!?"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=MAX_TOKENS)


def _text_config(hidden: int, projection: int = 0) -> CLIPTextConfig:
    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=hidden, intermediate_size=37,
                          layer_norm_eps=1e-5, num_attention_heads=4, num_hidden_layers=3, vocab_size=128,
                          hidden_act="gelu", max_position_embeddings=MAX_TOKENS,
                          **({"projection_dim": projection} if projection else {}))


def _scheduler(prediction_type: str) -> DDIMScheduler:
    # Stable Diffusion's schedule (scaled_linear betas 0.00085..0.012 over 1000 steps)
    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=True, steps_offset=1, prediction_type=prediction_type)


def _vae() -> AutoencoderKL:
    return AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
                         norm_num_groups=2, sample_size=16)


def sd_pipeline(folder: Path, prediction_type: str = "epsilon") -> StableDiffusionPipeline:
    """A tiny SD 1.x pipeline with random weights (seeded), saved to `folder`."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=4, attention_head_dim=2)
    pipe = StableDiffusionPipeline(vae=_vae(), text_encoder=CLIPTextModel(_text_config(16)),
                                   tokenizer=tokenizer(folder.with_name(folder.name + "-vocab")), unet=unet.eval(),
                                   scheduler=_scheduler(prediction_type), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return pipe


def sdxl_pipeline(folder: Path) -> StableDiffusionXLPipeline:
    """A tiny SDXL pipeline (two text encoders, the text_time added conditioning), saved to `folder`."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=2,
                                use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=4, projection_class_embeddings_input_dim=4 * 6 + 16,
                                cross_attention_dim=32, norm_num_groups=4)
    pipe = StableDiffusionXLPipeline(vae=_vae(), text_encoder=CLIPTextModel(_text_config(16)),
                                     text_encoder_2=CLIPTextModelWithProjection(_text_config(16, projection=16)),
                                     tokenizer=tokenizer(folder.with_name(folder.name + "-vocab")),
                                     tokenizer_2=tokenizer(folder.with_name(folder.name + "-vocab-2")),
                                     unet=unet.eval(), scheduler=_scheduler("epsilon"))
    pipe.save_pretrained(folder)
    return pipe


def clip_model(folder: Path):
    """A tiny random CLIP model (text and vision towers, projections) with its tokenizer and CLIP's image
    preprocessing (224 shortest side, 224 centre crop, CLIP's mean and std), saved in transformers' layout."""
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(0)
    vision = CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
                              image_size=224, patch_size=32, projection_dim=8)
    config = CLIPConfig(text_config=_text_config(16, projection=8).to_dict(), vision_config=vision.to_dict(),
                        projection_dim=8)
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer(folder.with_name(folder.name + "-vocab")).save_pretrained(folder)
    CLIPImageProcessorPil().save_pretrained(folder)
    return model


def random_inception(path: Path) -> Path:
    """torch-fidelity's Inception with random weights (seeded), saved where a profile reads its weights file: the
    standard extractor's path, offline (never committed)."""
    import distill.metrics.fidelity  # noqa: F401  (torch-fidelity without torchvision)
    import torch_fidelity.feature_extractor_inceptionv3 as inc

    original, fetcher = inc.FeatureExtractorInceptionV3.load_state_dict, inc.load_state_dict_from_url
    try:  # construct without downloading: skip the weight loading once
        inc.load_state_dict_from_url = lambda *a, **k: {}
        inc.FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
        torch.manual_seed(0)
        net = inc.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        inc.FeatureExtractorInceptionV3.load_state_dict, inc.load_state_dict_from_url = original, fetcher
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def coco_train_set(images: Path, annotations: Path, sizes: dict[int, tuple[int, int]],
                   captions: dict[int, list[str]]) -> Path:
    """An MS-COCO-format caption set in the real formats: a random JPEG per image id (w, h) named as train2014 names
    them, under `images`, and the captions file `annotations` (captions_train2014.json's layout); an id without
    captions is an image the file lists uncaptioned."""
    images.mkdir(parents=True, exist_ok=True)
    annotations.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    listed = []
    for i, (w, h) in sizes.items():
        name = f"COCO_train2014_{i:012d}.jpg"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(images / name)
        listed.append({"id": i, "file_name": name, "width": w, "height": h})
    notes = [{"id": 10 * i + k, "image_id": i, "caption": c}
             for i, caps in captions.items() for k, c in enumerate(caps)]
    annotations.write_text(json.dumps({"images": listed, "annotations": notes}))
    return annotations


def caption_methods(smoke: dict, name: str, teacher: str, teacher_steps: int, updates: int,
                    multistep: list | None = None) -> dict:
    """PD's, guided distillation's and CD's sections for a text_to_image experiment `name` on a tiny pipeline, from
    the smoke profile's (batches of 2, `updates` updates per training, PD's rounds from `teacher_steps`, guided's from
    2 steps to the w-student of 1 step, CD's time lists `multistep` or the smoke ones)."""
    train = {**smoke["pd"]["experiments"]["digits"]["train"], "batch_size": 2, "random_flip": False, "dropout": 0.0,
             "checkpoint_every": 2, "log_every": 2}
    g = smoke["guided"]["experiments"]["digits"]
    c = smoke["cd"]["experiments"]["digits"]
    return {
        "pd": {**smoke["pd"], "table2": name, "experiments": {name: {
            **smoke["pd"]["experiments"]["digits"], "teacher_steps": teacher_steps, "train": train,
            "updates_per_round": updates, "updates_last_rounds": updates}}},
        "guided": {**smoke["guided"], "experiments": {name: {
            **g, "data": None, "network": None, "teacher_training": None, "train": train, "student_steps": [1],
            "sweep": [1.5], "fixed_w": {"weights": [], "steps": 1}, "stage_one": {**g["stage_one"], "updates": updates},
            "stage_two": {**g["stage_two"], "start_steps": 2, "updates_per_round": updates,
                          "updates_last_rounds": updates}}}},
        "cd": {**smoke["cd"], "experiments": {name: {
            **c, "teacher": {"diffusers": teacher}, "sigma_min": 0.0292, "sigma_max": 14.6146, "updates": updates,
            "multistep": multistep or c["multistep"], "train": train}}},
    }
