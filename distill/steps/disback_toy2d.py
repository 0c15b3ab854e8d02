"""DisBack against its baseline on the toy2d ring mixture, where the truth is exact (one job, about two minutes).

1. A teacher: the MLP denoiser trained on the mixture's points (distill/pipeline/train_teacher.py).
2. Stage 1 and stage 2 with the steps every experiment uses (distill/steps/disback.py): the path, then DisBack and
   the baseline per training seed, the same generator initialisation, budget and evaluation points.
3. At each point, from the saved snapshots: the sliced Wasserstein distance between the generator's samples and
   samples of the exact mixture (POT), and the score mismatch on the generator's samples between the fake score and
   the exact score of the noised mixture (also against the teacher, and for DisBack against its current node).

Every run resumes after a kill; curves.csv is written last, atomically.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ot
import pandas as pd
import torch

from distill.config import ConfigError
from distill.experiment_views import scaled
from distill.core.checkpoint import atomic_write, load_weights
from distill.core.denoiser import SigmaFormDenoiser
from distill.core.provenance import write_record
from distill.core.snapshots import read_snapshots
from distill.data.mixture import RingMixture
from distill.methods.disback import ScoreDistillation, generate
from distill.pipeline import train_teacher
from distill.steps import disback
from distill.pipeline.common import load_denoiser, setup_torch
from distill.steps.disback import LABELS, METHODS, mismatch, node_at, points

__all__ = ["LABELS", "METHODS", "run"]


def teacher_profile(exp: dict[str, Any]) -> dict[str, Any]:
    """The toy2d section as the profile train_teacher.run reads (data, network, teacher training)."""
    return {"profile": "toy2d", "device": "cpu", "precision": "fp32",
            "data": {"name": "toy2d", "conditional": False, "num_points": exp["num_points"], "seed": exp["data_seed"],
                     **exp["mixture"]},
            "network": {"kind": "mlp", **exp["network"]}, "teacher": exp["teacher"]}


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int, seed: int) -> float:
    """SW_2 between two point clouds (POT's Monte Carlo estimate over `projections` random directions)."""
    return float(ot.sliced_wasserstein_distance(a.double().numpy(), b.double().numpy(), n_projections=projections,
                                                seed=seed))


def evaluate(exp: dict[str, Any], core: ScoreDistillation, method: str, seed: int, teacher_path: Path,
             nodes: list[Path] | None, run: Path) -> list[dict[str, Any]]:
    ev, mix = exp["evaluation"], RingMixture(**exp["mixture"])
    truth = torch.as_tensor(mix.sample(ev["samples"], ev["truth_seed"])[0])
    z = torch.randn(ev["samples"], 2, generator=torch.Generator().manual_seed(ev["noise_seed"]))
    teacher = SigmaFormDenoiser(load_denoiser(teacher_path)[0])
    exact = lambda x_t, sigma, cond=None: mix.denoise(x_t, sigma)  # noqa: E731
    its = points(exp)
    fakes = dict(read_snapshots(run / "points", "fake_score", its))
    node_net = load_denoiser(teacher_path)[0]
    rows = []
    for step, gen_file in read_snapshots(run / "points", "generator", its):
        generator, fake = (SigmaFormDenoiser(load_denoiser(f)[0]) for f in (gen_file, fakes[step]))
        with torch.no_grad():
            x = generate(generator, z, core.sigma_init).float()
        seed_m = ev["noise_seed"] + 1
        row = {"method": method, "seed": seed, "iteration": step,
               "sw": sliced_wasserstein(x, truth, ev["projections"], ev["projection_seed"]),
               "mismatch_truth": mismatch(exact, fake, x, core, seed_m),
               "mismatch_teacher": mismatch(teacher, fake, x, core, seed_m)}
        if nodes:
            row["node"] = node_at(exp, step, len(nodes) - 1)
            node_net.net.load_state_dict(load_weights(nodes[row["node"]])[0])
            row["mismatch_node"] = mismatch(SigmaFormDenoiser(node_net), fake, x, core, seed_m)
        rows.append(row)
    return rows


def run(exp: dict[str, Any], out: str | Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """The whole toy2d experiment into `out` (teacher/, path/, runs/<method>-s<seed>/, curves.csv, summary.json)."""
    setup_torch(threads, "cpu")
    out = Path(out)
    core = ScoreDistillation.from_params(exp["core"])
    start = time.perf_counter()
    teacher = train_teacher.run(teacher_profile(exp), exp["parameterization"], exp["teacher_weighting"],
                                exp["teacher_seed"], out / "teacher", progress=progress)
    teacher_path = out / "teacher" / train_teacher.WEIGHTS
    stage_one = disback.record_path(exp, teacher_path, out / "path", progress=progress)
    nodes = disback.path_nodes(out / "path", exp["path"]["nodes"], exp["path"]["interval"])
    runs, rows = {}, []
    for method in METHODS:
        for seed in exp["seeds"]:
            folder = out / "runs" / f"{method}-s{seed}"
            own = nodes if method == "disback" else None
            runs[f"{method}-s{seed}"] = disback.train_generator(exp, method, seed, teacher_path, own, folder,
                                                                progress=progress)
            rows += evaluate(exp, core, method, seed, teacher_path, own, folder)
    curves = pd.DataFrame(rows)
    atomic_write(out / "curves.csv", lambda p: curves.to_csv(p, index=False, float_format="%.6g"))
    summary = {"teacher": {k: teacher[k] for k in ("wall_seconds", "steps", "status")},
               "stage_one": {k: stage_one[k] for k in ("wall_seconds", "steps", "status", "images_seen")},
               "runs": {k: {f: v[f] for f in ("wall_seconds", "steps", "status", "updates", "images_seen")}
                        for k, v in runs.items()},
               "wall_seconds": time.perf_counter() - start}
    write_record(out / "summary.json", summary, {"curves": out / "curves.csv"})
    return summary


def toy2d_command(args, cfg, progress):
    """`distill disback-toy2d`."""
    exp = cfg["disback"]["toy2d"]
    if args.factor is not None:  # a budget trend's copy: disback.toy2d.trend's settings multiplied
        trend = exp.get("trend") or {}
        if args.factor not in (trend.get("factors") or []):
            raise ConfigError(f"--factor {args.factor} is not one of disback.toy2d.trend.factors "
                              f"{trend.get('factors') or []}")
        exp = scaled(exp, args.factor, trend["scale"], trend.get("set") or {})
    s = run(exp, Path(args.out), args.threads, progress)
    print(f"toy2d: {len(s['runs'])} runs in {s['wall_seconds']:.1f} s")
