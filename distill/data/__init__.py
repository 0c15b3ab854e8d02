"""Data sets by name, from the `data` section of params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill.data.base import ArrayDataset, DataError, images_to_uint8
from distill.data.embedded import load_digits, load_mnist, load_toy2d
from distill.data.files import load_cifar10, load_image_folder, load_imagenet64

__all__ = ["ArrayDataset", "DataError", "images_to_uint8", "load_dataset", "DATASETS"]

DATASETS = ("digits", "mnist", "toy2d", "cifar10", "imagenet64", "image_folder")


def load_dataset(cfg: Mapping[str, Any]) -> ArrayDataset:
    """Load the data set described by cfg = {'name': ..., 'root': ..., 'resolution': ..., 'conditional': ...}."""
    name, root, res = cfg["name"], cfg.get("root"), cfg.get("resolution")
    if name == "digits":
        ds = load_digits(res or 8)
    elif name == "mnist":
        ds = load_mnist(res or 28)
    elif name == "toy2d":
        ds = load_toy2d(cfg.get("num_points", 8192), cfg.get("seed", 0),
                        **{k: cfg[k] for k in ("modes", "radius", "std") if cfg.get(k) is not None})
    elif name in ("cifar10", "imagenet64", "image_folder"):
        if not root:
            raise DataError(f"data set {name!r} needs data.root in params.yaml: the folder holding its files")
        loader = {"cifar10": load_cifar10, "imagenet64": load_imagenet64}.get(name)
        ds = loader(root) if loader else load_image_folder(root, cfg.get("label", "images"), res)
        if res and name != "image_folder" and ds.shape[-1] != res:
            raise DataError(f"{name} images are {ds.shape[-1]}x{ds.shape[-1]}, but data.resolution is {res}")
    else:
        raise DataError(f"unknown data set {name!r}; expected one of {DATASETS}")
    if not cfg.get("conditional", False):
        ds.labels, ds.num_classes = None, 0
    elif ds.labels is None:
        raise DataError(f"data.conditional is true, but {name} has no labels")
    return ds
