"""Step: the CLIP score of a text-to-image samples file (distill sample-text) against the prompt file it was drawn
from (distill/metrics/clip_score.py): image i paired with prompt `prompt_index[i]`, the file's sha256 checked against
the one the samples record, one JSON record (mean, standard deviation, N, the CLIP folder, provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distill.core.checkpoint import file_sha256
from distill.core.provenance import write_record
from distill.data.prompts import read_prompts
from distill.metrics.clip_score import clip_scores
from distill.pipeline.common import setup_torch
from distill.pipeline.sample import load_samples


def run(cfg: dict[str, Any], samples_path: str | Path, prompts_path: str | Path, clip_folder: str | Path,
        out_path: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    images, status, meta = load_samples(samples_path)
    if status != "ok":
        raise ValueError(f"{samples_path} holds no images ({status}): nothing to score")
    if "prompt_index" not in meta or "prompts_sha256" not in meta:
        raise ValueError(f"{samples_path} records no prompts: score the samples of `distill sample-text`")
    if meta["prompts_sha256"] != file_sha256(prompts_path):
        raise ValueError(f"{prompts_path} is not the prompt file {samples_path} was drawn from (its sha256 differs "
                         f"from the recorded {str(meta['prompts_sha256'])[:12]}...): give that file")
    prompts = read_prompts(prompts_path)
    index = np.asarray(meta["prompt_index"]).reshape(-1)
    device = setup_torch(threads, cfg["device"])
    scores = clip_scores(images, [prompts[i] for i in index], clip_folder, cfg["evaluation"]["batch_size"], device,
                         progress)
    record = {"metric": "clip_score", "clip_score": float(scores.mean()),
              "clip_score_std": float(scores.std(ddof=1)) if len(scores) > 1 else None, "num_samples": len(scores),
              "clip": str(clip_folder), "prompts_sha256": meta["prompts_sha256"], "samples": str(samples_path)}
    return write_record(out_path, record, {"samples": samples_path, "prompts": prompts_path})
