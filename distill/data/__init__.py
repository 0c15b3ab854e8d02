"""Data sets by name, from the `data` section of params.yaml."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from distill.data.base import ArrayDataset, DataError, images_to_uint8
from distill.data.embedded import load_digits, load_mnist, load_toy2d
from distill.data.files import load_cifar10, load_image_folder, load_imagenet64

__all__ = ["ArrayDataset", "DataError", "images_to_uint8", "load_dataset", "DATASETS"]

def _digits(cfg: Mapping[str, Any]) -> ArrayDataset:
    return load_digits(cfg.get("resolution") or 8)


def _mnist(cfg: Mapping[str, Any]) -> ArrayDataset:
    return load_mnist(cfg.get("resolution") or 28)


def _toy2d(cfg: Mapping[str, Any]) -> ArrayDataset:
    return load_toy2d(cfg.get("num_points", 8192), cfg.get("seed", 0),
                      **{k: cfg[k] for k in ("modes", "radius", "std") if cfg.get(k) is not None})


def _from_files(read: Callable[[Mapping[str, Any]], ArrayDataset], resolution_checked: bool = True):
    """A data set read from files under data.root (which it needs), its images checked against data.resolution."""

    def load(cfg: Mapping[str, Any]) -> ArrayDataset:
        name, root, res = cfg["name"], cfg.get("root"), cfg.get("resolution")
        if not root:
            raise DataError(f"data set {name!r} needs data.root in params.yaml: the folder holding its files")
        ds = read(cfg)
        if res and resolution_checked and ds.shape[-1] != res:
            raise DataError(f"{name} images are {ds.shape[-1]}x{ds.shape[-1]}, but data.resolution is {res}")
        return ds

    return load


# Every data set by its params.yaml name (data.name): a function of the data section giving the images.
DATASETS: dict[str, Callable[[Mapping[str, Any]], ArrayDataset]] = {
    "digits": _digits,
    "mnist": _mnist,
    "toy2d": _toy2d,
    "cifar10": _from_files(lambda cfg: load_cifar10(cfg["root"])),
    "imagenet64": _from_files(lambda cfg: load_imagenet64(cfg["root"])),
    "image_folder": _from_files(lambda cfg: load_image_folder(cfg["root"], cfg.get("label", "images"),
                                                              cfg.get("resolution")), resolution_checked=False),
}


def load_dataset(cfg: Mapping[str, Any]) -> ArrayDataset:
    """Load the data set described by cfg = {'name': ..., 'root': ..., 'resolution': ..., 'conditional': ...}."""
    name = cfg["name"]
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; expected one of {tuple(DATASETS)}")
    ds = DATASETS[name](cfg)
    if not cfg.get("conditional", False):
        ds.labels, ds.num_classes = None, 0
    elif ds.labels is None:
        raise DataError(f"data.conditional is true, but {name} has no labels")
    return ds
