"""The handler of `distill fid ref|calc|curve|floor` (declared in distill/commands/core.py): the protocol by hand, on
a folder, a .zip, an .npz of images, or a model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from distill.core.checkpoint import file_sha256 as sha256
from distill.core.provenance import write_record
from distill.data import DataError
from distill.data.files import load_image_folder
from distill.data.npz import read_npz
from distill.metrics.extractors import load_extractor
from distill.metrics.protocol import evaluate_images
from distill.metrics.reference import compute_reference, load_reference, save_reference
from distill.pipeline import floor, reference, sample
from distill.pipeline.common import setup_torch
from distill.pipeline.sample import load_samples
from distill.reports import fid_curve


def load_images(path: str | Path) -> np.ndarray:
    """uint8-or-float images [N, C, H, W] from a folder/.zip of image files, or an .npz ('images' or its only array)."""
    path = Path(path)
    if path.suffix == ".npz":
        arrays = read_npz(path, "images file")
        key = "images" if "images" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
        if key is None:
            raise DataError(f"images file {path} holds {sorted(arrays)}; expected an array named 'images'")
        return arrays[key]
    return load_image_folder(path, path.name).data


def command(args, cfg: dict[str, Any], progress: bool) -> None:
    setup_torch(args.threads, "cpu")
    ev = cfg["evaluation"]
    weights = reference.usable_extractor_weights(cfg, args.extractor_weights)
    if args.fid_command == "ref":
        if args.images is None:
            reference.run(cfg, args.out, weights, args.threads)
        else:
            save_reference(args.out, compute_reference(load_images(args.images), ev["feature_extractor"], weights,
                                                       ev["batch_size"], str(args.images), args.range))
        print(f"reference statistics written to {args.out}")
    elif args.fid_command == "calc":
        if args.model:
            with tempfile.TemporaryDirectory() as tmp:
                status = sample.run(cfg, args.model, args.sampler, Path(tmp) / "s.npz", args.threads, progress)
                if status != "ok":
                    raise RuntimeError(f"{args.model} gave no samples: {status}")
                images = load_samples(Path(tmp) / "s.npz")[0]
        else:
            images = load_images(args.images)
        ref = load_reference(args.ref, ev["feature_extractor"], sha256(weights))
        record = {"feature_extractor": ev["feature_extractor"], "feature_extractor_sha256": sha256(weights),
                  "reference": str(args.ref), "reference_sha256": sha256(args.ref),
                  **evaluate_images(images, ref, load_extractor(ev["feature_extractor"], weights), ev,
                                    None if args.model else args.range)}
        text = json.dumps({k: v for k, v in record.items() if k != "per_range"}, indent=2)
        if args.out:
            write_record(args.out, record, {"images": args.images, "model": args.model, "reference": args.ref,
                                            "extractor_weights": weights})
        print(text)
    elif args.fid_command == "floor":
        record = floor.run(cfg, args.reference, args.out, weights, args.threads)
        print(floor.describe_floor(record))
    elif args.fid_command == "curve":
        df = fid_curve.run(cfg, args.samples, args.reference, args.pdf, args.csv, weights, args.threads, args.floor)
        print(df.groupby("num_samples")["fid"].agg(["mean", "std", "min"]).to_string())
