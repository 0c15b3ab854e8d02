"""A small CNN classifier trained on the embedded data set; its penultimate activations are the domain features for
FID (Inception weights cannot be fetched offline) and its logits serve the Inception-Score-like metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from distill.core.checkpoint import load_into, load_weights
from distill.core.training import TrainConfig, train
from distill.data import ArrayDataset


class DomainClassifier(nn.Module):
    def __init__(self, in_channels: int, resolution: int, num_classes: int, width: int = 32, feature_dim: int = 64):
        super().__init__()
        layers, ch, res = [nn.Conv2d(in_channels, width, 3, padding=1), nn.SiLU()], width, resolution
        while res > 4:
            layers += [nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.SiLU()]
            ch, res = 2 * ch, res // 2
        layers += [nn.Conv2d(ch, ch, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(ch * res * res, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x in [-1, 1] -> (features [B, feature_dim], logits [B, num_classes])."""
        feats = self.features(self.body(x))
        return feats, self.head(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[1]


def build_classifier(cfg: Mapping[str, Any]) -> DomainClassifier:
    return DomainClassifier(cfg["in_channels"], cfg["resolution"], cfg["num_classes"], cfg["width"], cfg["feature_dim"])


def load_classifier(path, what: str = "the domain classifier") -> DomainClassifier:
    """The trained domain classifier of a model.safetensors; a clear error for another network's weights."""
    tensors, config = load_weights(path)
    if "classifier" not in config:
        raise ValueError(f"{path} holds a {config.get('kind', 'network')} network, not {what}: give "
                         "results/<profile>/classifier/model.safetensors (`distill train-classifier` writes it)")
    net = build_classifier(config["classifier"])
    load_into(net, tensors, path)
    return net


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Translate each image by up to max_shift pixels (zero padding = background at -1): light augmentation."""
    if max_shift == 0:
        return x
    pad = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, x.shape[0]), generator=gen)
    h, w = x.shape[-2:]
    return torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(x.shape[0])])


@torch.no_grad()
def accuracy(net: DomainClassifier, data: ArrayDataset, batch_size: int = 512) -> float:
    net.eval()
    x, y = data.model_tensor(), data.label_tensor()
    correct = sum(int((net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train_classifier(train_data: ArrayDataset, cfg: Mapping[str, Any], train_cfg: TrainConfig, out_dir, progress=True):
    """Cross-entropy training on train_data with random shifts; returns (net, TrainResult)."""
    if train_data.labels is None:
        raise ValueError(f"{train_data.name} has no labels: a domain classifier cannot be trained on it")
    torch.manual_seed(train_cfg.seed)
    net = build_classifier(cfg)
    x, y = train_data.model_tensor(), train_data.label_tensor()

    def loss_fn(model: nn.Module, gen: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(x), (train_cfg.batch_size,), generator=gen)
        return F.cross_entropy(model(random_shift(x[idx], gen, cfg["max_shift"])), y[idx])

    result, weights = train(net, loss_fn, train_cfg, out_dir, desc="classifier", progress=progress,
                            fingerprint={"classifier": dict(cfg), "train": dataclasses.asdict(train_cfg),
                                         "data": train_data.name, "examples": len(train_data)})
    net.load_state_dict(weights)
    net.eval()
    return net, result
