"""Loaders for the papers' data sets in their published on-disk formats (no download: put the files in place).

* CIFAR-10, python version: a folder `cifar-10-batches-py` holding pickles data_batch_1..5 and test_batch, each a
  dict with b'data' (uint8 [10000, 3072], channel-planar RGB 32x32) and b'labels'.
* ImageNet 64x64 (downsampled ImageNet, Chrabaszcz et al. 2017): npz files train_data_batch_1..10 (or val_data)
  with 'data' (uint8 [N, 12288], channel-planar RGB 64x64) and 'labels' (1..1000, 1-based).
* Image folders or zip archives (LSUN, FFHQ, AFHQv2 exports as in EDM's dataset_tool): PNG/JPEG files of one size,
  with an optional dataset.json {"labels": [[relative_path, label], ...]}.
"""

from __future__ import annotations

import io
import json
from distill.data import safe_pickle
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from distill.data.base import ArrayDataset, DataError
from distill.data.npz import read_npz

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _missing(name: str, path: Path, expected: str) -> DataError:
    return DataError(
        f"{name} not found at {path}: expected {expected}. Put the files there, or set data.root in params.yaml "
        "to where they are (this suite never downloads data)."
    )


def load_cifar10(root: str | Path, split: str = "train") -> ArrayDataset:
    root = Path(root)
    folder = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise _missing("CIFAR-10", folder, f"the python version 'cifar-10-batches-py' with {', '.join(names)} "
                       f"(missing: {', '.join(missing)})")
    images, labels = [], []
    for name in names:
        try:
            with open(folder / name, "rb") as f:
                batch = safe_pickle.load(f, str(folder / name), encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            lab = np.asarray(batch[b"labels"], dtype=np.int64)
        except safe_pickle.UnsafePickleError as exc:
            raise DataError(f"CIFAR-10 batch {exc}; the real batches hold a dict of bytes, lists and numpy arrays "
                            "(fetch them again: `distill fetch cifar10`)") from exc
        except Exception as exc:  # pickle errors, missing keys, bad types
            raise DataError(f"CIFAR-10 batch {folder / name} is malformed ({type(exc).__name__}: {exc}); expected a "
                            "pickled dict with b'data' uint8 [N, 3072] and b'labels'") from exc
        if data.ndim != 2 or data.shape[1] != 3072 or len(lab) != len(data):
            raise DataError(f"CIFAR-10 batch {folder / name} has data {data.shape} and {len(lab)} labels; "
                            "expected [N, 3072] with N labels")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    return ArrayDataset("cifar10", np.concatenate(images), np.concatenate(labels), 10)


def load_imagenet64(root: str | Path, split: str = "train") -> ArrayDataset:
    root = Path(root)
    pattern = "train_data_batch_*.npz" if split == "train" else "val_data.npz"
    files = sorted(root.glob(pattern), key=lambda p: int(p.stem.rsplit("_", 1)[-1]) if split == "train" else 0)
    if not files:
        raise _missing("ImageNet 64x64", root, f"the downsampled-ImageNet npz batches ({pattern}) "
                       "with 'data' uint8 [N, 12288] and 'labels' 1..1000")
    images, labels = [], []
    for path in files:
        npz = read_npz(path, "ImageNet 64x64 batch (an npz with 'data' uint8 [N, 12288] and 'labels')",
                       required=("data", "labels"))
        data, lab = npz["data"], npz["labels"].astype(np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 64 * 64 or len(lab) != len(data):
            raise DataError(f"ImageNet 64x64 batch {path} has data {data.dtype} {data.shape} and {len(lab)} labels; "
                            "expected uint8 [N, 12288] with N labels")
        if lab.min() < 1 or lab.max() > 1000:
            raise DataError(f"ImageNet 64x64 batch {path} has labels in [{lab.min()}, {lab.max()}]; expected 1..1000")
        images.append(data.reshape(-1, 3, 64, 64))
        labels.append(lab - 1)
    return ArrayDataset("imagenet64", np.concatenate(images), np.concatenate(labels), 1000)


def load_image_folder(root: str | Path, name: str = "images", resolution: Optional[int] = None) -> ArrayDataset:
    """A folder or .zip of equally sized images (EDM dataset_tool layout), labels from dataset.json if present."""
    root = Path(root)
    if not root.exists():
        raise _missing(name, root, "a folder or .zip archive of PNG/JPEG images (e.g. an EDM dataset_tool export)")

    if root.is_dir():
        files = {str(p.relative_to(root)).replace("\\", "/"): p for p in sorted(root.rglob("*")) if p.is_file()}
        read = lambda rel: files[rel].read_bytes()  # noqa: E731
        names = list(files)
    else:
        try:
            archive = zipfile.ZipFile(root)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{root} is not a valid zip archive ({exc})") from exc
        names = sorted(n for n in archive.namelist() if not n.endswith("/"))
        read = archive.read
    image_names = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    if not image_names:
        raise DataError(f"{root} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    images = []
    for n in image_names:
        try:
            img = Image.open(io.BytesIO(read(n)))
            img = img.convert("L" if img.mode in ("L", "I;16", "I") else "RGB")
        except Exception as exc:
            raise DataError(f"{root}/{n} is not a readable image ({exc})") from exc
        if resolution is not None and img.size != (resolution, resolution):
            img = img.resize((resolution, resolution), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.uint8)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if images and arr.shape != images[0].shape:
            raise DataError(f"{root}/{n} has shape {arr.shape}, but {image_names[0]} has {images[0].shape}; all images "
                            "must share one size (set data.resolution to resize)")
        images.append(arr)
    labels, num_classes = None, 0
    if "dataset.json" in names:
        try:
            meta = json.loads(read("dataset.json"))
            table = dict(meta["labels"]) if meta.get("labels") is not None else None
        except Exception as exc:
            raise DataError(f"{root}/dataset.json is malformed ({exc}); expected {{'labels': [[path, label], ...]}}") from exc
        if table is not None:
            missing = [n for n in image_names if n not in table]
            if missing:
                raise DataError(f"{root}/dataset.json has no label for {missing[0]} (and {len(missing) - 1} more)")
            labels = np.asarray([table[n] for n in image_names], dtype=np.int64)
            num_classes = int(labels.max()) + 1
    return ArrayDataset(name, np.stack(images), labels, num_classes)
