import json
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from distill.data import DataError, load_dataset
from distill.data.files import load_cifar10, load_image_folder, load_imagenet64


def _write_cifar(folder, n=6, broken=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n)),
                 b"batch_label": name.encode()}
        if name == broken:
            batch[b"data"] = batch[b"data"][:, :100]
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)


def test_cifar10_python_batches(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py")
    ds = load_cifar10(tmp_path)
    assert ds.data.shape == (30, 3, 32, 32) and ds.data.dtype == np.uint8 and ds.num_classes == 10
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # channel-planar rows: the first 1024 values are the red plane
    assert np.array_equal(ds.data[0, 0].ravel(), raw[b"data"][0, :1024])
    assert load_cifar10(tmp_path, split="test").data.shape == (6, 3, 32, 32)
    full = load_dataset({"name": "cifar10", "root": str(tmp_path), "resolution": 32, "conditional": True})
    assert full.labels is not None and len(full.labels) == 30


def test_cifar10_missing_and_malformed(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py.*data.root"):
        load_cifar10(tmp_path / "nowhere")
    _write_cifar(tmp_path / "c" / "cifar-10-batches-py", broken="data_batch_3")
    with pytest.raises(DataError, match="data_batch_3.*expected \\[N, 3072\\]"):
        load_cifar10(tmp_path / "c")
    (tmp_path / "c" / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_2 is malformed"):
        load_cifar10(tmp_path / "c")


def test_imagenet64_npz_batches(tmp_path):
    rng = np.random.default_rng(0)
    for i in (1, 2):
        np.savez(tmp_path / f"train_data_batch_{i}.npz", data=rng.integers(0, 256, (4, 12288), dtype=np.uint8),
                 labels=np.array([1, 2, 1000, 5]))
    ds = load_imagenet64(tmp_path)
    assert ds.data.shape == (8, 3, 64, 64) and ds.num_classes == 1000
    assert ds.labels.tolist() == [0, 1, 999, 4] * 2  # 1-based on disk, 0-based in memory
    np.savez(tmp_path / "val_data.npz", data=np.zeros((2, 12288), np.uint8), labels=np.array([0, 3]))
    with pytest.raises(DataError, match="labels in \\[0, 3\\]"):
        load_imagenet64(tmp_path, split="val")
    with pytest.raises(DataError, match="train_data_batch_\\*.npz"):
        load_imagenet64(tmp_path / "empty")


def _write_images(folder, sizes):
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        Image.fromarray(np.full((size, size, 3), 40 * i, np.uint8)).save(folder / f"img{i:02d}.png")


def test_image_folder_and_zip_with_labels(tmp_path):
    _write_images(tmp_path / "imgs", [16, 16, 16])
    (tmp_path / "imgs" / "dataset.json").write_text(json.dumps({"labels": [[f"img{i:02d}.png", i % 2] for i in range(3)]}))
    ds = load_image_folder(tmp_path / "imgs")
    assert ds.data.shape == (3, 3, 16, 16) and ds.labels.tolist() == [0, 1, 0]
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as z:
        for p in sorted((tmp_path / "imgs").iterdir()):
            z.write(p, p.name)
    dz = load_image_folder(tmp_path / "imgs.zip")
    assert np.array_equal(dz.data, ds.data) and dz.labels.tolist() == [0, 1, 0]
    resized = load_dataset({"name": "image_folder", "root": str(tmp_path / "imgs.zip"), "resolution": 8})
    assert resized.data.shape == (3, 3, 8, 8) and resized.labels is None


def test_image_folder_errors(tmp_path):
    _write_images(tmp_path / "mixed", [16, 8])
    with pytest.raises(DataError, match="share one size"):
        load_image_folder(tmp_path / "mixed")
    (tmp_path / "bad.zip").write_bytes(b"PK not really")
    with pytest.raises(DataError, match="not a valid zip"):
        load_image_folder(tmp_path / "bad.zip")
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="needs data.root"):
        load_dataset({"name": "cifar10", "root": None})


def test_embedded_data_sets():
    digits = load_dataset({"name": "digits", "resolution": 8, "conditional": True})
    assert digits.data.shape == (1797, 1, 8, 8) and digits.data.max() == 255 and digits.num_classes == 10
    x = digits.model_tensor()
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    mnist = load_dataset({"name": "mnist", "resolution": 16})
    assert mnist.data.shape == (5000, 1, 16, 16) and mnist.labels is None
    toy = load_dataset({"name": "toy2d"})
    assert toy.kind == "points" and toy.shape == (2,)
    train, held = digits.split(0.2, seed=0)
    assert len(train) + len(held) == 1797 and len(held) == 359


def test_the_digits_read_from_scikit_learns_file_are_load_digits():
    """The loader reads scikit-learn's file itself (no sklearn import at start-up): the same images and labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    digits = load_dataset({"name": "digits", "resolution": 8, "conditional": True})
    assert np.array_equal(digits.data, np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None])
    assert np.array_equal(digits.labels, bunch.target)
