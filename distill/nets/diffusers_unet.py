"""A diffusers latent teacher (Stable Diffusion 1.x/2.x, SDXL) as a denoiser of the suite.

A `UNet2DConditionModel` trained on the discrete schedule alpha-bar_n (n = 0..M-1, its scheduler's `alphas_cumprod`)
is a VP model whose latents are z = sqrt(alpha-bar) x + sqrt(1 - alpha-bar) eps, the suite's VP form at the same
log-SNR. For the suite's time t the adapter takes the noise level sigma = exp(-lambda(t) / 2) and the UNet's
continuous timestep index as SFD's `CFGPrecond` does (zju-pi/diff-sampler, sfd-main/models/networks_edm.py
`sigma_inv`): log alpha = -log(1 + sigma^2) / 2, t' interpolated piecewise-linearly in log alpha over the grid
t'_n = (n + 1) / M (extrapolated linearly past its ends), timestep = M t' - 1, so that sigma_n gives exactly n. The
UNet's input is z itself (SFD's c_in x with x = z / alpha); its output is turned into x-hat by its
`prediction_type` (epsilon, v_prediction or sample). Methods see latents; `AutoencoderKL` decodes them for evaluation
(distill/nets/diffusers_vae.py).

Conditioning (the `cond` dict, per-sample tensors): "text" [B, L, D] (the prompt's hidden states,
distill/nets/diffusers_text.py), and for SDXL "text_embeds" [B, P] and "time_ids" [B, 6] (`added_cond_kwargs`). A
scalar condition of a student, its guidance weight "w" (guided distillation's w-conditioned student) or its step
count "steps" (SFD-v), enters through the UNet's `timestep_cond` (a UNet built with `time_cond_proj_dim`), embedded
as the LCM pipelines embed w (VDM's sinusoidal embedding of 1000 v; diffusers `get_guidance_scale_embedding`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from torch import nn

from distill.core.checkpoint import DIFFUSERS_COND_PROJ
from distill.core.denoiser import Cond
from distill.core.schedule import CosineSchedule, alpha_sigma_from_logsnr

PREDICTIONS = ("epsilon", "v_prediction", "sample")
SCALAR_CONDITIONS = ("w", "steps")  # a student's scalar condition, embedded into the UNet's timestep_cond
LCM_SCALE = 1000.0  # get_guidance_scale_embedding's w * 1000: a condition's scale where the network names none
COND_PROJ_DIM = 256  # diffusers' train_lcm_distill_sd_wds.py --unet_time_cond_proj_dim (LCM_Dreamshaper_v7's)
COND_PROJ_KEY = DIFFUSERS_COND_PROJ  # the weight a UNet built with time_cond_proj_dim adds


def scalar_embedding(v: torch.Tensor, dim: int, scale: float = LCM_SCALE) -> torch.Tensor:
    """[B] -> [B, dim]: sin and cos of `scale` v at VDM's frequencies, as diffusers' LCM pipelines embed w at scale
    1000 (`LatentConsistencyModelPipeline.get_guidance_scale_embedding`; the pipelines pass w = guidance_scale - 1)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(torch.log(torch.tensor(10000.0)) / (half - 1)))
    arg = (v.float() * scale)[:, None] * freqs.to(v.device)[None, :]
    emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    return torch.nn.functional.pad(emb, (0, 1)) if dim % 2 else emb


class DiffusersDenoiser(nn.Module):
    """denoise(z_t, t, cond) -> x-hat of a diffusers UNet (its weights in `.net`)."""

    def __init__(self, unet: nn.Module, alphas_cumprod: torch.Tensor, prediction_type: str,
                 schedule: CosineSchedule | None = None, condition_scales: Mapping[str, float] | None = None):
        super().__init__()
        if prediction_type not in PREDICTIONS:
            raise ValueError(f"unknown prediction_type {prediction_type!r} of the scheduler; expected one of "
                             f"{list(PREDICTIONS)}")
        self.net, self.prediction_type, self.schedule = unet, prediction_type, schedule or CosineSchedule()
        self.condition_scales = dict(condition_scales or {})  # the network section's, as the suite's U-Net takes them
        log_alpha = 0.5 * torch.log(torch.as_tensor(alphas_cumprod, dtype=torch.float64))
        self.register_buffer("log_alpha", log_alpha, persistent=False)

    @property
    def steps(self) -> int:
        """M, the number of training timesteps."""
        return len(self.log_alpha)

    def sigma_range(self) -> tuple[float, float]:
        """(sigma_min, sigma_max) = sigma at timesteps 0 and M - 1: the levels the teacher was trained on."""
        alpha_bar = torch.exp(2 * self.log_alpha[[0, -1]])
        sigmas = ((1 - alpha_bar) / alpha_bar).sqrt()
        return float(sigmas[0]), float(sigmas[1])

    def levels(self) -> torch.Tensor:
        """sigma_t = sqrt((1 - alpha-bar_t) / alpha-bar_t) of the training timesteps t = 0 .. M - 1 (increasing),
        float64: the noise levels DMD2's SD path draws its integer timesteps from."""
        alpha_bar = torch.exp(2 * self.log_alpha)
        return ((1 - alpha_bar) / alpha_bar).sqrt()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The UNet's continuous timestep of noise level sigma (SFD's `sigma_inv`, then c_noise = M t - 1)."""
        log_alpha = -0.5 * torch.log1p(torch.as_tensor(sigma, dtype=torch.float64) ** 2)
        grid_t = torch.arange(1, self.steps + 1, dtype=torch.float64, device=log_alpha.device) / self.steps
        xp = self.log_alpha.flip(0)  # increasing: from timestep M - 1 to 0
        yp = grid_t.flip(0)
        i = torch.searchsorted(xp, log_alpha).clamp(1, len(xp) - 1)  # the segment [i - 1, i], or an end one
        t = yp[i - 1] + (log_alpha - xp[i - 1]) * (yp[i] - yp[i - 1]) / (xp[i] - xp[i - 1])
        return self.steps * t - 1

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        logsnr = self.schedule.logsnr(t)
        alpha, sigma_t = (c.to(z.dtype).reshape(-1, *([1] * (z.ndim - 1))) for c in alpha_sigma_from_logsnr(logsnr))
        timestep = self.timestep(torch.exp(-0.5 * logsnr)).to(z.dtype)
        out = self.net(z, timestep, **unet_inputs(cond, self.net.config.time_cond_proj_dim,
                                                  self.condition_scales)).sample
        if self.prediction_type == "epsilon":
            return (z - sigma_t * out) / alpha  # x-hat = (z - sigma eps-hat) / alpha
        if self.prediction_type == "v_prediction":
            return alpha * z - sigma_t * out  # x-hat = alpha z - sigma v-hat
        return out


def unet_inputs(cond: Cond, time_cond_dim: int | None = None,
                scales: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The UNet's keyword inputs from the suite's per-sample conditions: the prompt's hidden states, SDXL's pooled
    text embedding and size ids (`added_cond_kwargs`), a scalar condition as `timestep_cond` (a UNet with
    time_cond_proj_dim = `time_cond_dim`), embedded at its scale in `scales` (LCM's 1000 where none is named)."""
    if not cond or "text" not in cond:
        raise ValueError("a text-to-image teacher needs the prompt: cond={'text': Tensor[B, L, D], ...} "
                         "(distill/nets/diffusers_text.py encodes prompts)")
    inputs: dict[str, Any] = {"encoder_hidden_states": cond["text"]}
    if "text_embeds" in cond or "time_ids" in cond:
        inputs["added_cond_kwargs"] = {"text_embeds": cond["text_embeds"], "time_ids": cond["time_ids"]}
    scalars = [k for k in SCALAR_CONDITIONS if k in cond]
    if len(scalars) > 1:
        raise ValueError(f"a diffusers UNet takes one scalar condition (its timestep_cond), got {scalars}")
    if scalars:
        if not time_cond_dim:
            raise ValueError(f"condition {scalars[0]!r}: this UNet has no time_cond_proj_dim, so it takes no scalar "
                             "condition; build the student's UNet with time_cond_proj_dim (as LCM's)")
        scale = (scales or {}).get(scalars[0], LCM_SCALE)
        inputs["timestep_cond"] = scalar_embedding(cond[scalars[0]], time_cond_dim, scale).to(cond["text"].dtype)
    return inputs


def with_condition_projection(unet: UNet2DConditionModel, dim: int = COND_PROJ_DIM) -> UNet2DConditionModel:
    """The UNet with a `timestep_cond` input added (LCM's time_cond_proj_dim: a bias-free linear map of the scalar
    condition's embedding, added to the timestep embedding before its MLP), zero-initialised, so the network computes
    what it computed before: a student that gains a scalar condition (SFD-v's steps, guided distillation's w) starts
    as its teacher (distill.core.checkpoint.load_into fills the new weight with zeros too)."""
    grown = UNet2DConditionModel.from_config({**unet.config, "time_cond_proj_dim": dim})
    missing, unexpected = grown.load_state_dict(unet.state_dict(), strict=False)
    if unexpected or set(missing) != {COND_PROJ_KEY}:
        raise ValueError(f"adding timestep_cond to the UNet changed more than {COND_PROJ_KEY}: missing {missing}, "
                         f"unexpected {unexpected}")
    torch.nn.init.zeros_(grown.time_embedding.cond_proj.weight)
    return grown.eval().requires_grad_(False)


def denoiser_from_folder(cfg: Mapping[str, Any]) -> DiffusersDenoiser:
    """The teacher of a diffusers folder (save_pretrained's layout: unet/, scheduler/, ...): network section
    {kind: diffusers, folder: ...}; a student's scalar conditions (network.scalar_conditions) through timestep_cond,
    added to a UNet that has none."""
    folder = Path(cfg["folder"])
    if cfg.get("dropout"):
        raise ValueError(f"dropout {cfg['dropout']}: a diffusers UNet keeps its own config's dropout; set the "
                         "method's train.dropout to 0 for a text-to-image teacher")
    for part in ("unet", "scheduler"):
        if not (folder / part).is_dir():
            raise FileNotFoundError(f"{folder} has no {part}/ folder: expected a diffusers pipeline folder "
                                    "(save_pretrained's layout), e.g. the one `distill fetch` writes")
    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    if cfg.get("scalar_conditions") and unet.config.time_cond_proj_dim is None:
        unet = with_condition_projection(unet)
    scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    return DiffusersDenoiser(unet.eval().requires_grad_(False), scheduler.alphas_cumprod,
                             scheduler.config.prediction_type, condition_scales=cfg.get("condition_scales"))
