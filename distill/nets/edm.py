"""The suite's own implementation of the EDM networks NVlabs published as pickles (Karras et al. 2022; the
architectures of NVlabs/edm training/networks.py): DDPM++ (`SongUNet`, under `VPPrecond` for
edm-cifar10-32x32-uncond-vp.pkl), ADM (`DhariwalUNet`, under `EDMPrecond` for edm-imagenet-64x64-cond-adm.pkl), and
their layers. The classes carry the forward passes only: an instance is restored from the attributes an EDM pickle
stores for it (its `__dict__`: hyper-parameters, parameters, buffers, submodules), which `distill/nets/edm_pickle.py`
hands over without running the source code the pickle carries. Names follow EDM's, so every attribute lands where
the forward pass reads it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.functional import silu


class Linear(nn.Module):
    def forward(self, x):
        x = x @ self.weight.to(x.dtype).t()
        return x + self.bias.to(x.dtype) if self.bias is not None else x


class Conv2d(nn.Module):
    """A convolution with optional 2x up/downsampling by the stored resampling filter (transposed or strided
    depthwise convolutions), fused with the convolution when `fused_resample`."""

    def forward(self, x):
        f = nn.functional
        w = self.weight.to(x.dtype) if self.weight is not None else None
        b = self.bias.to(x.dtype) if self.bias is not None else None
        k = self.resample_filter.to(x.dtype) if self.resample_filter is not None else None
        w_pad = w.shape[-1] // 2 if w is not None else 0
        k_pad = (k.shape[-1] - 1) // 2 if k is not None else 0
        if self.fused_resample and self.up and w is not None:
            x = f.conv_transpose2d(x, k.mul(4).tile([self.in_channels, 1, 1, 1]), groups=self.in_channels, stride=2,
                                   padding=max(k_pad - w_pad, 0))
            x = f.conv2d(x, w, padding=max(w_pad - k_pad, 0))
        elif self.fused_resample and self.down and w is not None:
            x = f.conv2d(x, w, padding=w_pad + k_pad)
            x = f.conv2d(x, k.tile([self.out_channels, 1, 1, 1]), groups=self.out_channels, stride=2)
        else:
            if self.up:
                x = f.conv_transpose2d(x, k.mul(4).tile([self.in_channels, 1, 1, 1]), groups=self.in_channels,
                                       stride=2, padding=k_pad)
            if self.down:
                x = f.conv2d(x, k.tile([self.in_channels, 1, 1, 1]), groups=self.in_channels, stride=2, padding=k_pad)
            if w is not None:
                x = f.conv2d(x, w, padding=w_pad)
        return x + b.reshape(1, -1, 1, 1) if b is not None else x


class GroupNorm(nn.Module):
    def forward(self, x):
        return nn.functional.group_norm(x, num_groups=self.num_groups, weight=self.weight.to(x.dtype),
                                        bias=self.bias.to(x.dtype), eps=self.eps)


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q^T k / sqrt(c)) over the keys, computed in float32."""
    w = torch.einsum("ncq,nck->nqk", q.float(), (k / math.sqrt(k.shape[1])).float())
    return w.softmax(dim=2).to(q.dtype)


class UNetBlock(nn.Module):
    """A residual block (GroupNorm-SiLU-conv, the embedding as a shift or as scale and shift, GroupNorm-SiLU-dropout-
    conv, the skip), optionally followed by self-attention."""

    def forward(self, x, emb):
        orig = x
        x = self.conv0(silu(self.norm0(x)))
        params = self.affine(emb).unsqueeze(2).unsqueeze(3).to(x.dtype)
        if self.adaptive_scale:
            scale, shift = params.chunk(chunks=2, dim=1)
            x = silu(torch.addcmul(shift, self.norm1(x), scale + 1))
        else:
            x = silu(self.norm1(x + params))
        x = self.conv1(nn.functional.dropout(x, p=self.dropout, training=self.training))
        x = (x + (self.skip(orig) if self.skip is not None else orig)) * self.skip_scale
        if self.num_heads:
            q, k, v = self.qkv(self.norm2(x)).reshape(x.shape[0] * self.num_heads, x.shape[1] // self.num_heads, 3,
                                                      -1).unbind(2)
            a = torch.einsum("nqk,nck->ncq", attention_weights(q, k), v)
            x = (self.proj(a.reshape(*x.shape)) + x) * self.skip_scale
        return x


class PositionalEmbedding(nn.Module):
    def forward(self, x):
        half = self.num_channels // 2
        freqs = torch.arange(half, dtype=torch.float32, device=x.device) / (half - (1 if self.endpoint else 0))
        x = x.ger(((1 / self.max_positions) ** freqs).to(x.dtype))
        return torch.cat([x.cos(), x.sin()], dim=1)


class FourierEmbedding(nn.Module):
    def forward(self, x):
        x = x.ger((2 * math.pi * self.freqs).to(x.dtype))
        return torch.cat([x.cos(), x.sin()], dim=1)


class SongUNet(nn.Module):
    """DDPM++ / NCSN++ (Song et al. 2021), as EDM re-implemented it."""

    def forward(self, x, noise_labels, class_labels, augment_labels=None):
        emb = self.map_noise(noise_labels)
        emb = emb.reshape(emb.shape[0], 2, -1).flip(1).reshape(*emb.shape)  # sin before cos, as DDPM++
        if self.map_label is not None:
            emb = emb + self.map_label(class_labels * math.sqrt(self.map_label.in_features))
        if self.map_augment is not None and augment_labels is not None:
            emb = emb + self.map_augment(augment_labels)
        emb = silu(self.map_layer1(silu(self.map_layer0(emb))))
        skips, aux = [], x
        for name, block in self.enc.items():
            if "aux_down" in name:
                aux = block(aux)
            elif "aux_skip" in name:
                x = skips[-1] = x + block(aux)
            elif "aux_residual" in name:
                x = skips[-1] = aux = (x + block(aux)) / math.sqrt(2)
            else:
                x = block(x, emb) if isinstance(block, UNetBlock) else block(x)
                skips.append(x)
        aux, tmp = None, None
        for name, block in self.dec.items():
            if "aux_up" in name:
                aux = block(aux)
            elif "aux_norm" in name:
                tmp = block(x)
            elif "aux_conv" in name:
                tmp = block(silu(tmp))
                aux = tmp if aux is None else tmp + aux
            else:
                if x.shape[1] != block.in_channels:
                    x = torch.cat([x, skips.pop()], dim=1)
                x = block(x, emb)
        return aux


class DhariwalUNet(nn.Module):
    """ADM (Dhariwal & Nichol 2021), as EDM re-implemented it."""

    def forward(self, x, noise_labels, class_labels, augment_labels=None):
        emb = self.map_noise(noise_labels)
        if self.map_augment is not None and augment_labels is not None:
            emb = emb + self.map_augment(augment_labels)
        emb = self.map_layer1(silu(self.map_layer0(emb)))
        if self.map_label is not None:
            emb = emb + self.map_label(class_labels)
        emb = silu(emb)
        skips = []
        for block in self.enc.values():
            x = block(x, emb) if isinstance(block, UNetBlock) else block(x)
            skips.append(x)
        for block in self.dec.values():
            if x.shape[1] != block.in_channels:
                x = torch.cat([x, skips.pop()], dim=1)
            x = block(x, emb)
        return self.out_conv(silu(self.out_norm(x)))


class _Precond(nn.Module):
    """D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) (EDM Table 1), F in float32 here."""

    def coefficients(self, sigma):
        raise NotImplementedError

    def forward(self, x, sigma, class_labels=None):
        x = x.to(torch.float32)
        sigma = sigma.to(torch.float32).reshape(-1, 1, 1, 1)
        if self.label_dim == 0:
            class_labels = None
        elif class_labels is None:
            class_labels = torch.zeros([1, self.label_dim], device=x.device)
        else:
            class_labels = class_labels.to(torch.float32).reshape(-1, self.label_dim)
        c_skip, c_out, c_in, c_noise = self.coefficients(sigma)
        f_x = self.model(c_in * x, c_noise.flatten(), class_labels=class_labels)
        return c_skip * x + c_out * f_x.to(torch.float32)


class VPPrecond(_Precond):
    """Song et al.'s variance-preserving formulation: c_noise = (M - 1) t(sigma)."""

    def coefficients(self, sigma):
        t = ((self.beta_min**2 + 2 * self.beta_d * (1 + sigma**2).log()).sqrt() - self.beta_min) / self.beta_d
        return 1, -sigma, 1 / (sigma**2 + 1).sqrt(), (self.M - 1) * t


class VEPrecond(_Precond):
    def coefficients(self, sigma):
        return 1, sigma, 1, (0.5 * sigma).log()


class EDMPrecond(_Precond):
    """EDM's preconditioning (its Table 1), sigma_data the data's standard deviation."""

    def coefficients(self, sigma):
        s2, d2 = sigma**2, self.sigma_data**2
        return d2 / (s2 + d2), sigma * self.sigma_data / (s2 + d2).sqrt(), 1 / (d2 + s2).sqrt(), sigma.log() / 4


# the classes an EDM network pickle may hold, by EDM's names (anything else in it is refused or left as data)
CLASSES: dict[str, type[nn.Module]] = {c.__name__: c for c in (
    Linear, Conv2d, GroupNorm, UNetBlock, PositionalEmbedding, FourierEmbedding, SongUNet, DhariwalUNet, VPPrecond,
    VEPrecond, EDMPrecond)}
PRECONDS = ("VPPrecond", "VEPrecond", "EDMPrecond")
