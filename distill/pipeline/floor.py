"""Step: the FID floor of the protocol: what a perfect generator scores. Real images go through the same protocol as
every model's samples (N images per seed range, the same R ranges, minimum and mean over them, the same extractor and
reference statistics), so a reported FID can be read against it and a ratio of FIDs above it.

The floor is the unseen-data floor (distill/metrics/unseen_floor.py): real images that the reference statistics did not
see, cross-fitted on the data set itself and read at the protocol's N against the statistics' M images; every ratio
claim and floor line uses it, and KID beside it. The embedded data sets are too small to hold N unseen images out of
the statistics (mini: 1,797 digits, all in the reference statistics, against 3 x 1,000 images to evaluate), hence the
cross-fit. The record also keeps, as a footnote, the older *resampled* estimate: range r draws its N images with
replacement from the data set itself (seed r); its images are the reference's own, so it lacks the reference side's
sampling error and reads low; a split-half check measures that bias (statistics of half A, the FID of |B| images of
B, unseen, and of |B| images resampled from A).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from distill.core.checkpoint import file_sha256 as sha256
from distill.core.provenance import write_record
from distill.data import load_dataset
from distill.metrics.extractors import extract_features, load_extractor
from distill.metrics import unseen_floor
from distill.metrics.images import as_uint8_images
from distill.metrics.protocol import evaluate_images, fid_of_features
from distill.metrics.reference import Reference, describe, fid_statistics, load_reference
from distill.pipeline.common import setup_torch
from distill.pipeline.evaluate import protocol_record
from distill.pipeline.reference import usable_extractor_weights
from distill.results.table import CONTEXT, context_of, describe_context

METHOD = "resampled"  # how the real images are drawn (the module's docstring says why and its bias)
SPLIT_SEED = 0


def resample(n: int, pool: int, seed: int) -> torch.Tensor:
    """n indices drawn with replacement from range(pool), from their own seed."""
    return torch.randint(pool, (n,), generator=torch.Generator().manual_seed(seed))


def split_half_check(feats: torch.Tensor, ref: Reference) -> dict[str, Any]:
    """Statistics of half A of the real images; FID of half B (unseen) and of |B| images resampled from A."""
    perm = torch.randperm(len(feats), generator=torch.Generator().manual_seed(SPLIT_SEED))
    a, b = feats[perm[: len(feats) // 2]], feats[perm[len(feats) // 2:]]
    mu, sigma = fid_statistics(a)
    half = Reference(mu, sigma, a.float().numpy(), ref.image_shape, ref.extractor, ref.extractor_sha256,
                     f"half A of {ref.source}", len(a))
    unseen = fid_of_features(b, half)
    resampled = fid_of_features(a[resample(len(b), len(a), SPLIT_SEED)], half)
    return {"num_images": len(b), "unseen_fid": unseen, "resampled_fid": resampled,
            "unseen_over_resampled": unseen / resampled if resampled > 0 else None}


def run(cfg: dict[str, Any], reference_path: str | Path, out_path: str | Path, weights: str | None = None,
        threads: int | None = None) -> dict[str, Any]:
    setup_torch(threads, "cpu")
    ev = cfg["evaluation"]
    weights = usable_extractor_weights(cfg, weights)
    ref = load_reference(reference_path, ev["feature_extractor"], sha256(weights))
    data = load_dataset({**cfg["data"], "conditional": False})
    if data.kind != "image":
        raise ValueError(f"the FID floor needs images; {data.name} holds points")
    images = as_uint8_images(data.data, f"real images ({data.name})", ref.image_shape)
    extractor = load_extractor(ev["feature_extractor"], weights)
    n, r = ev["num_samples"], ev["seed_ranges"]
    idx = torch.cat([resample(n, len(images), seed) for seed in range(r)])
    record: dict[str, Any] = {
        "status": "ok", "method": METHOD, "data": data.name, "pool": len(images),
        **protocol_record(ev, weights, reference_path), "reference_stats": describe(ref),
        **evaluate_images(images[idx.numpy()], ref, extractor, ev),
    }
    feats = extract_features(images, extractor, ev["batch_size"])["fid"]
    record["unseen"] = unseen_floor.measure(feats, ref, ev)
    record["split_half"] = split_half_check(feats, ref)
    sizes = sorted(set(ev["curve"]["sizes"]) | {n}) if ev.get("curve") else [n]
    record["curve"] = [{"num_samples": size, "seed_range": i,
                        "fid": fid_of_features(feats[resample(size, len(feats), i)], ref)}
                       for size in sizes for i in range(r)]
    return write_record(out_path, record, {"reference": reference_path, "extractor_weights": weights})


def read(path: str | Path | None) -> dict[str, Any] | None:
    """A floor record (None when no path is given); a clear error when it is unreadable."""
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"FID floor {path} is unreadable ({exc}); rebuild it: snakemake --cores all -- {path}") \
            from exc


def matching(record: dict[str, Any] | None, rows) -> dict[str, Any] | None:
    """The floor record where it was measured in the evaluation context of `rows` (results-table rows: one extractor,
    one set of reference statistics); else a stand-in that says why it is not shown (fid() is None for it)."""
    if record is None or rows is None or len(rows) == 0 or "mismatch" in record:
        return record
    own = sorted(set(map(tuple, rows[CONTEXT].astype(str).values.tolist())))
    if own == [context_of(record)]:
        return record
    return {"mismatch": (f"The real-data floor is not shown: it was measured in another evaluation context "
                         f"({describe_context(context_of(record))}) than these rows "
                         f"({'; '.join(describe_context(c) for c in own)}); build both on one machine.")}


def fid(record: dict[str, Any] | None) -> float | None:
    """The floor's FID: the unseen-data floor, one range of the protocol's N images against the reference statistics'
    M images."""
    if record is None or "mismatch" in record:
        return None
    if "unseen" not in record:
        raise ValueError("this FID floor record predates the unseen-data floor (it has only the resampled estimate, "
                         "which reads low); rebuild it: snakemake --cores all -- <the floor's path>")
    return float(record["unseen"]["estimate"])


def kid(record: dict[str, Any] | None) -> float | None:
    """The unseen real images' KID (mean over the reps' minima over the ranges): ~0, a perfect generator's."""
    return None if record is None or "unseen" not in record else float(record["unseen"]["kid"]["min"])


def resampled_fid(record: dict[str, Any]) -> float:
    """The older floor, N images resampled from the reference's own (biased low; a footnote only)."""
    return float(record["metrics"]["fid"]["min"])


def unseen_curve(record: dict[str, Any], sizes: list[int]) -> dict[int, float]:
    """The unseen floor (one range) at other N, from the same fit."""
    u = record["unseen"]
    return {n: unseen_floor.at(u["fit"], n, u["reference_images"]) for n in sizes}


def above(value: float, floor: float | None) -> float:
    """A FID above the floor (value - floor); the value itself without a floor."""
    return value - floor if floor is not None else value


def describe_floor(record: dict[str, Any]) -> str:
    """One sentence for a caption: the unseen floor, how it was measured, its KID, and the resampled footnote (or why
    it is not shown)."""
    if "mismatch" in record:
        return record["mismatch"]
    u, s = record["unseen"], record["split_half"]
    direct = (f"; measured directly at N = {u['direct']['n']} against {u['direct']['m']} images: "
              f"{u['direct']['fid']:.2f}")
    return (f"Real-data floor: FID {fid(record):.2f}, KID {kid(record):.4g} (± {u['kid']['std_over_reps']:.3g} "
            f"between splits): real {record['data']} images the reference statistics did not see, cross-fitted "
            f"(FID = a/n + b/m over {len(u['design'])} ranges of n held-out images against m reference images, "
            f"residual {u['fit']['rmse']:.2f}) and read at N = {u['num_samples']} against "
            f"M = {u['reference_images']}{direct}. Footnote: resampling N of the reference's own "
            f"{record['pool']} images reads {resampled_fid(record):.2f}, biased low (split half at N = "
            f"{s['num_images']}: unseen {s['unseen_fid']:.2f}, resampled {s['resampled_fid']:.2f}).")


def profile_path(cfg: dict[str, Any], results: Path) -> Path:
    """The profile's floor record: results/<profile>/floor/<data set>-<extractor>.json."""
    return Path(results) / "floor" / f"{cfg['data']['name']}-{cfg['evaluation']['feature_extractor']}.json"


def profile_note(cfg: dict[str, Any], results: Path) -> str:
    """The profile's floor as a sentence, where computed."""
    path = profile_path(cfg, results)
    return describe_floor(read(path)) if path.is_file() else ""
