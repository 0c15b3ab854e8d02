"""Steps: the scores of a text-to-image samples file (distill sample-text), each one JSON record with its provenance:

- the CLIP score against the prompt file it was drawn from (distill/metrics/clip_score.py): image i paired with
  prompt `prompt_index[i]`, the file's sha256 checked against the one the samples record (mean, standard deviation,
  N, the CLIP folder);
- a point of a text-to-image table, sampled in parts (seed ranges; 30,000 images at 512 x 512 do not fit one file):
  each part's Inception features and CLIP scores (`text-features`), then the parts joined (`text-point`): the FID
  against published statistics of the prompt set's images (distill/metrics/text_fid.py) and the mean CLIP score."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from distill.core.checkpoint import atomic_write, file_sha256
from distill.data.npz import read_npz
from distill.core.provenance import write_record
from distill.data.prompts import read_prompts
from distill.metrics.clip_score import clip_scores
from distill.metrics.text_fid import fid_against, inception_features
from distill.pipeline.common import setup_torch
from distill.pipeline.sample import load_samples


def _images(samples_path: str | Path):
    images, status, meta = load_samples(samples_path)
    if status != "ok":
        raise ValueError(f"{samples_path} holds no images ({status}): nothing to score")
    return images, meta


def run(cfg: dict[str, Any], samples_path: str | Path, prompts_path: str | Path, clip_folder: str | Path,
        out_path: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    images, meta = _images(samples_path)
    _check_prompts(samples_path, meta, prompts_path)
    prompts = read_prompts(prompts_path)
    index = np.asarray(meta["prompt_index"]).reshape(-1)
    device = setup_torch(threads, cfg["device"])
    scores = clip_scores(images, [prompts[i] for i in index], clip_folder, cfg["evaluation"]["batch_size"], device,
                         progress)
    record = {"metric": "clip_score", "clip_score": float(scores.mean()),
              "clip_score_std": float(scores.std(ddof=1)) if len(scores) > 1 else None, "num_samples": len(scores),
              "clip": str(clip_folder), "prompts_sha256": meta["prompts_sha256"], "samples": str(samples_path)}
    return write_record(out_path, record, {"samples": samples_path, "prompts": prompts_path})


def _check_prompts(samples_path, meta, prompts_path) -> None:
    if "prompt_index" not in meta or "prompts_sha256" not in meta:
        raise ValueError(f"{samples_path} records no prompts: score the samples of `distill sample-text`")
    if meta["prompts_sha256"] != file_sha256(prompts_path):
        raise ValueError(f"{prompts_path} is not the prompt file {samples_path} was drawn from (its sha256 differs "
                         f"from the recorded {str(meta['prompts_sha256'])[:12]}...): give that file")


SAMPLING_KEYS = ("model", "sampler", "steps", "nfe", "guidance", "prompts_sha256")  # equal in every part of a point


def features_run(cfg: dict[str, Any], samples_path: str | Path, prompts_path: str | Path, clip_folder: str | Path,
                 weights: str | Path, out_path: str | Path, threads: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Per image of one samples file (one part of a point's seeds): its Inception features (as the FID statistics
    were made) and its CLIP score; written as an .npz that `text-point` joins with the point's other parts. A part
    whose samples are not finite (a diverged model) is recorded as such, with no features: its point has no FID."""
    images, status, meta = load_samples(samples_path)
    _check_prompts(samples_path, meta, prompts_path)
    sampling = {k: meta.get(k) for k in SAMPLING_KEYS}
    record = {"first_seed": int(meta.get("first_seed", 0)), "num_samples": int(meta.get("num_samples", len(images))),
              "sampling": sampling, "extractor_sha256": file_sha256(weights), "clip": str(clip_folder),
              "status": status}
    if status == "ok":
        device = setup_torch(threads, cfg["device"])
        batch = cfg["evaluation"]["batch_size"]
        prompts = read_prompts(prompts_path)
        index = np.asarray(meta["prompt_index"]).reshape(-1)
        clip = clip_scores(images, [prompts[i] for i in index], clip_folder, batch, device, progress)
        feats = inception_features(images, weights, batch)
    else:
        clip, feats = np.zeros((0,)), np.zeros((0, 0))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, features=feats, clip_scores=clip, record=np.array(json.dumps(record, sort_keys=True)))

    atomic_write(out_path, write)
    return record


def point_run(parts: list[str | Path], stats_path: str | Path, out_path: str | Path) -> dict[str, Any]:
    """One point of a text-to-image table (a model, sampler and guidance over seeds 0 .. N-1): its parts' features
    joined, the FID against the statistics and the mean CLIP score, one JSON record."""
    loaded = []
    for path in parts:
        z = read_npz(path, "text-to-image features", required=("features", "clip_scores", "record"))
        loaded.append((path, json.loads(str(z["record"])), z["features"], z["clip_scores"]))
    loaded.sort(key=lambda p: p[1]["first_seed"])
    expected = 0
    for path, rec, _, _ in loaded:  # the parts tile seeds 0 .. N-1 once, from one sampling and one extractor
        if rec["first_seed"] != expected:
            raise ValueError(f"{path} starts at seed {rec['first_seed']}, expected {expected}: the parts must cover "
                             "seeds 0 .. N-1 once each (a part missing or given twice)")
        expected += rec["num_samples"]
        for key in ("sampling", "extractor_sha256"):
            if rec[key] != loaded[0][1][key]:
                raise ValueError(f"{path} differs from {loaded[0][0]} in its {key} ({rec[key]} vs "
                                 f"{loaded[0][1][key]}): not parts of one point")
    record = {"num_samples": expected, **loaded[0][1]["sampling"], "statistics": str(stats_path),
              "statistics_sha256": file_sha256(stats_path), "extractor_sha256": loaded[0][1]["extractor_sha256"]}
    failed = [f"{rec['status']} (seeds from {rec['first_seed']})" for _, rec, _, _ in loaded
              if rec.get("status", "ok") != "ok"]
    if failed:  # the table says why this point has no number, instead of the workflow stopping
        record.update(status="; ".join(failed), fid=None, clip_score=None, clip_score_std=None)
    else:
        feats = np.concatenate([f for *_, f, _ in loaded])
        clip = np.concatenate([c for *_, c in loaded])
        record.update(status="ok", fid=fid_against(feats, stats_path), clip_score=float(clip.mean()),
                      clip_score_std=float(clip.std(ddof=1)) if len(clip) > 1 else None)
    return write_record(out_path, record, {"statistics": stats_path, **{f"part{i}": p for i, (p, *_) in
                                                                        enumerate(loaded)}})
