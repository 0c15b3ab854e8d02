"""A U-Net denoiser in the style of Ho et al. (2020) with BigGAN-style residual up/down-sampling (as PD Sec. 5).

Residual blocks are modulated by the condition embedding through a scale and shift after normalisation (FiLM);
see `ConditionEmbedding` for how time, class label and extra scalar conditions enter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from distill.nets.embedding import ConditionEmbedding


def group_norm(channels: int) -> nn.GroupNorm:
    groups = min(32, max(1, channels // 4))
    while channels % groups:
        groups -= 1
    return nn.GroupNorm(groups, channels)


def zero_init(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class Resample(nn.Module):
    def __init__(self, mode: Optional[str]):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.mode == "down":
            return F.avg_pool2d(x, 2)
        return x


class ResBlock(nn.Module):
    """GN-SiLU-(resample)-conv, FiLM by the embedding, GN-SiLU-dropout-conv; resampling also on the skip (BigGAN)."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float, resample: Optional[str] = None):
        super().__init__()
        self.norm1, self.resample = group_norm(in_ch), Resample(resample)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2, self.dropout = group_norm(out_ch), nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.resample(F.silu(self.norm1(x))))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(self.resample(x)) + h


class AttentionBlock(nn.Module):
    def __init__(self, channels: int, head_dim: int = 64):
        super().__init__()
        self.heads = max(1, channels // head_dim)
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: int,
        ch: int = 64,
        ch_mult: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 2,
        attn_resolutions: Sequence[int] = (16,),
        dropout: float = 0.0,
        emb_ch: Optional[int] = None,
        head_dim: int = 64,
        num_classes: int = 0,
        scalar_conditions: Sequence[str] = (),
        null_label: bool = False,
        condition_scales: Optional[Mapping[str, float]] = None,
    ):
        super().__init__()
        if resolution % 2 ** (len(ch_mult) - 1):
            raise ValueError(f"resolution {resolution} is not divisible by 2^(len(ch_mult)-1) = {2 ** (len(ch_mult) - 1)}")
        emb_dim = emb_ch or 4 * ch
        self.embed = ConditionEmbedding(ch, emb_dim, num_classes, scalar_conditions, null_label, condition_scales)
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)

        def block(cin: int, cout: int, res: int, resample: Optional[str] = None) -> list[nn.Module]:
            layers: list[nn.Module] = [ResBlock(cin, cout, emb_dim, dropout, resample)]
            if resample is None and res in attn_resolutions:
                layers.append(AttentionBlock(cout, head_dim))
            return layers

        self.down, skip_chs, cur, res = nn.ModuleList(), [ch], ch, resolution
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(nn.ModuleList(block(cur, ch * mult, res)))
                cur = ch * mult
                skip_chs.append(cur)
            if level < len(ch_mult) - 1:
                self.down.append(nn.ModuleList(block(cur, cur, res, "down")))
                res //= 2
                skip_chs.append(cur)
        self.mid = nn.ModuleList([ResBlock(cur, cur, emb_dim, dropout), AttentionBlock(cur, head_dim),
                                  ResBlock(cur, cur, emb_dim, dropout)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(nn.ModuleList(block(cur + skip_chs.pop(), ch * mult, res)))
                cur = ch * mult
            if level > 0:
                self.up.append(nn.ModuleList(block(cur, cur, res, "up")))
                res *= 2
        self.out = nn.Sequential(group_norm(cur), nn.SiLU(), zero_init(nn.Conv2d(cur, out_channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Optional[Mapping[str, torch.Tensor]] = None) -> torch.Tensor:
        emb = self.embed(t, cond)
        h = self.conv_in(x)
        hs = [h]
        for layers in self.down:
            for layer in layers:
                h = layer(h, emb)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb)
        for layers in self.up:
            if not isinstance(layers[0], ResBlock) or layers[0].resample.mode != "up":
                h = torch.cat([h, hs.pop()], dim=1)
            for layer in layers:
                h = layer(h, emb)
        return self.out(h)
