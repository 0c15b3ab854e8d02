"""The work of one workflow job, in units whose time can be measured: what the GPU-hours estimate multiplies
(distill.workflow.gpu_hours). Each computing `distill` command declares its job's work beside its definition
(its Command's `cost`, distill/commands): a function of the profile, the parsed arguments and the dry run's other jobs that
returns (unit, count) pairs.

Units:
  - `train`: one update of a registered method's training step (distill.plugins: Method.training_steps) with the
    networks, data and batch of a params.yaml experiment (or of the profile);
  - `sampler_step`: one step of a sampler (the network's evaluations at one time) over a batch of
    sampling.batch_size images, with the network of an experiment or of a model file;
  - `features`: one image through the profile's feature extractor (evaluation.feature_extractor);
  - `vae_encode`: one image through a latent teacher's VAE encoder, at its resolution (`distill encode-captions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from distill.experiment_views import experiment_profile
from distill.data import load_dataset
from distill.data.base import DataError
from distill.data.caption_latents import read_coco_captions

# where a network comes from: (method, experiment) of params.yaml, (None, None) for the profile's own, or a model file
Source = tuple[str | None, str | None] | str
IMPORTED = "imported"  # the producer of an imported network's folder (distill import-edm, import-diffusers)


@dataclass(frozen=True)
class Unit:
    kind: str  # 'train', 'sampler_step', 'features' or 'vae_encode'
    source: Source = (None, None)
    step: tuple[str, str] | None = None  # train: (method, training step name)

    @property
    def key(self) -> str:
        where = self.source if isinstance(self.source, str) else \
            "profile" if self.source == (None, None) else f"{self.source[0]}/{self.source[1]}"
        what = f"train {self.step[0]}:{self.step[1]}" if self.kind == "train" else self.kind
        return what if self.kind == "features" else f"{what} @ {where}"


class UnknownWork(ValueError):
    """A job's work cannot be counted before it runs (a model the dry run neither makes nor finds on disk, a data
    set not present)."""


def source_of_model(model: str, producers: Mapping[str, Source]) -> Source:
    """The network of a model file: the experiment of the dry-run job that writes its folder, else the file itself
    when it exists already."""
    folder = str(Path(model).parent)
    if Path(model).is_file():
        return producers[folder] if folder in producers and producers[folder] != IMPORTED else model
    if producers.get(folder) == IMPORTED:
        raise UnknownWork(f"{model}: an import job of this run makes it; once imported (run that job), its sampling "
                          "is priced from the file")
    if folder in producers:
        return producers[folder]
    raise UnknownWork(f"{model}: no job of the dry run makes it and it does not exist")


def sampler_steps(cfg: Mapping[str, Any], steps: int, images: int) -> int:
    """Sampler steps over batches of sampling.batch_size (the last batch, if partial, counted whole)."""
    return steps * math.ceil(images / cfg["sampling"]["batch_size"])


def protocol_images(cfg: Mapping[str, Any]) -> int:
    ev = cfg["evaluation"]
    return ev["num_samples"] * ev["seed_ranges"]


# ---- the core commands' work (the methods' commands declare theirs in their plug-ins) ----

def train_teacher_work(cfg, args, producers) -> list[tuple[Unit, int]]:
    method, experiment = getattr(args, "method", None), getattr(args, "experiment", None)
    ecfg = experiment_profile(cfg, method, experiment)
    return [(Unit("train", (method, experiment), ("table1", "teacher")), ecfg["teacher"]["steps"])]


def sample_work(cfg, args, producers) -> list[tuple[Unit, int]]:
    """Sampler steps; a classifier-free guided step (--guidance) is two network passes, counted as two steps."""
    steps = args.steps or cfg["sampling"]["steps"]
    images = args.num_samples or protocol_images(cfg)
    passes = 2 if getattr(args, "guidance", None) is not None else 1
    return [(Unit("sampler_step", source_of_model(args.model, producers)),
             passes * sampler_steps(cfg, steps, images))]


def encode_work(cfg, args, producers) -> list[tuple[Unit, int]]:
    """`distill encode-captions`: one pass of the teacher's VAE encoder per captioned image of the captions file."""
    path = Path(args.annotations)
    if not path.is_file():
        raise UnknownWork(f"encode-captions {path}: its images are counted once the captions file is fetched")
    try:
        images = len(read_coco_captions(path))  # what the command encodes: every captioned image
    except DataError as exc:
        raise UnknownWork(f"encode-captions {path}: {exc}") from None
    return [(Unit("vae_encode", source_of_model(args.teacher, producers)), images)]


def evaluate_work(cfg, args, producers) -> list[tuple[Unit, int]]:
    return [(Unit("features"), protocol_images(cfg))]


def fid_work(cfg, args, producers) -> list[tuple[Unit, int]]:
    """`fid ref` and `fid floor` embed the data set (its size needs the data; the floor also the protocol's images);
    the other actions embed the protocol's images."""
    if args.fid_command not in ("ref", "floor"):
        return [(Unit("features"), protocol_images(cfg))]

    if getattr(args, "images", None):
        raise UnknownWork(f"fid ref --images {args.images}: the images are counted when they exist")
    ecfg = experiment_profile(cfg, getattr(args, "method", None), getattr(args, "experiment", None))
    try:
        size = len(load_dataset(ecfg["data"]))
        return [(Unit("features"), size + (protocol_images(cfg) if args.fid_command == "floor" else 0))]
    except DataError as exc:
        raise UnknownWork(f"the reference statistics embed the data set, which is not here to count ({exc})") from None
