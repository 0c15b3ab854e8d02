"""DisBack against its baseline on the toy2d ring mixture, where the truth is exact (one job, seconds to minutes).

1. A teacher: the MLP denoiser trained on the mixture's points (distill/pipeline/train_teacher.py).
2. Stage 1 (degradation recording): a copy of the teacher fine-tuned on the initial generator's samples, N + 1
   nodes saved every `path.interval` steps with their manifest (distill/core/snapshots.py).
3. Stage 2, per training seed: DisBack (fake score from node N, the generator's target walking the path back to the
   teacher) and the baseline (fake score and target the teacher throughout), the same generator initialisation,
   budget and evaluation points; the generator and the fake score saved at every evaluation point.
4. At each point, from the saved weights: the sliced Wasserstein distance between the generator's samples and
   samples of the exact mixture (POT), and the score mismatch on the generator's samples between the fake score and
   the exact score of the noised mixture (also against the teacher, and for DisBack against its current node).

Every run resumes after a kill; curves.csv is written last, atomically.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from distill.core.checkpoint import atomic_write, load_weights
from distill.core.denoiser import SigmaFormDenoiser
from distill.core.provenance import write_record
from distill.core.snapshots import Snapshots, read_snapshots
from distill.core.training import Part, TrainConfig, train_parts
from distill.data.mixture import RingMixture
from distill.methods.disback import (ScoreDistillation, degradation_step, draw_sigmas, generate, noised,
                                     score_distillation_step, target_node)
from distill.pipeline import train_teacher
from distill.pipeline.common import load_denoiser, setup_torch

METHODS = ("disback", "baseline")
LABELS = {"disback": "DisBack", "baseline": "Baseline (no backtracking)"}


def teacher_profile(exp: dict[str, Any]) -> dict[str, Any]:
    """The toy2d section as the profile train_teacher.run reads (data, network, teacher training)."""
    return {"profile": "toy2d", "device": "cpu", "precision": "fp32",
            "data": {"name": "toy2d", "conditional": False, "num_points": exp["num_points"], "seed": exp["data_seed"],
                     **exp["mixture"]},
            "network": {"kind": "mlp", **exp["network"]}, "teacher": exp["teacher"]}


def _train_cfg(section: dict[str, Any], steps: int, seed: int) -> TrainConfig:
    return TrainConfig.from_params({**section, "steps": steps}, seed)


def _copy(teacher_path: Path, weights: dict[str, torch.Tensor] | None = None):
    net, _ = load_denoiser(teacher_path)
    if weights is not None:
        net.net.load_state_dict(weights)
    return net.train().requires_grad_(True)


def record_path(exp: dict[str, Any], core: ScoreDistillation, teacher_path: Path, out: Path, progress: bool) -> dict:
    p = exp["path"]
    score, generator = _copy(teacher_path), _copy(teacher_path).eval().requires_grad_(False)
    step = degradation_step(core, SigmaFormDenoiser(generator), SigmaFormDenoiser(score), (2,), p["batch_size"], "cpu")
    cfg = _train_cfg(exp["train"], p["nodes"] * p["interval"], exp["path_seed"])
    result, _ = train_parts({"score": Part(score.net, cfg)}, step, cfg, out, "stage 1: degradation path", progress,
                            snapshots=Snapshots(out / "nodes", p["interval"], ("score",)))
    return result.summary()


def path_nodes(exp: dict[str, Any], out: Path) -> list[Path]:
    p = exp["path"]
    return [f for _, f in read_snapshots(out / "nodes", "score", [i * p["interval"] for i in range(p["nodes"] + 1)])]


def distill_run(exp: dict[str, Any], core: ScoreDistillation, method: str, seed: int, teacher_path: Path,
                nodes: list[Path], out: Path, progress: bool) -> dict:
    s2 = exp["stage_two"]
    generator = _copy(teacher_path)
    fake = _copy(teacher_path, load_weights(nodes[-1])[0] if method == "disback" else None)
    real, current = _copy(teacher_path).eval().requires_grad_(False), {"node": 0}  # node 0: the teacher

    def real_at(step: int):
        if method == "disback":
            node = target_node(step, len(nodes) - 1, s2["interval"], s2["switch_rule"], exp["path"]["interval"])
            if node != current["node"]:
                real.net.load_state_dict(load_weights(nodes[node])[0])
                current["node"] = node
        return SigmaFormDenoiser(real)

    step = score_distillation_step(core, SigmaFormDenoiser(generator), SigmaFormDenoiser(fake), real_at, (2,),
                                   s2["batch_size"], "cpu")
    cfg = _train_cfg(exp["train"], s2["iterations"], seed)
    parts = {"generator": Part(generator.net, cfg), "fake_score": Part(fake.net, cfg)}
    result, _ = train_parts(parts, step, cfg, out, f"stage 2: {method} s{seed}", progress,
                            fingerprint={"method": method, "seed": seed, "exp": {  # what the run's weights depend on
                                k: v for k, v in exp.items() if k not in ("evaluation", "seeds", "min_eval_points")}},
                            snapshots=Snapshots(out / "points", exp["eval_every"], ("generator", "fake_score")))
    return result.summary()


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int, seed: int) -> float:
    """SW_2 between two point clouds (POT's Monte Carlo estimate over `projections` random directions)."""
    import ot

    return float(ot.sliced_wasserstein_distance(a.double().numpy(), b.double().numpy(), n_projections=projections,
                                                seed=seed))


def mismatch(d_target, d_fake, x: torch.Tensor, sigmas: torch.Tensor, lo: int, hi: int, sigma_data: float,
             seed: int) -> float:
    """E over sigma (the generator's range of the grid) and noise of (sigma^-2 + sigma_data^-2) ||D_target - D_fake||^2
    / dims at x_sigma = x + sigma eps: the fake-score loss's weighting of the score difference
    sigma^2 (s_target - s_fake) = D_target - D_fake."""
    g = torch.Generator().manual_seed(seed)
    sigma = draw_sigmas(sigmas, x.shape[0], lo, hi, g)
    x_t = noised(x, sigma, g)
    with torch.no_grad():
        diff = (d_target(x_t, sigma) - d_fake(x_t, sigma)).double().pow(2).mean(dim=1)
    return float(((sigma.pow(-2) + sigma_data ** -2) * diff).mean())


def evaluate(exp: dict[str, Any], core: ScoreDistillation, method: str, seed: int, teacher_path: Path,
             nodes: list[Path], run: Path) -> list[dict[str, Any]]:
    ev, s2, mix = exp["evaluation"], exp["stage_two"], RingMixture(**exp["mixture"])
    truth = torch.as_tensor(mix.sample(ev["samples"], ev["truth_seed"])[0])
    z = torch.randn(ev["samples"], 2, generator=torch.Generator().manual_seed(ev["noise_seed"]))
    sigmas, (lo, hi) = core.sigmas(), core.generator_range()
    teacher, node_net = load_denoiser(teacher_path)[0], load_denoiser(teacher_path)[0]
    points = list(range(0, s2["iterations"] + 1, exp["eval_every"]))
    gens = read_snapshots(run / "points", "generator", points)
    fakes = dict(read_snapshots(run / "points", "fake_score", points))
    rows = []
    for step, gen_file in gens:
        generator, fake = (_copy(teacher_path, load_weights(f)[0]).eval() for f in (gen_file, fakes[step]))
        with torch.no_grad():
            x = generate(SigmaFormDenoiser(generator), z, core.sigma_init).float()
        d_fake = SigmaFormDenoiser(fake)
        row = {"method": method, "seed": seed, "iteration": step,
               "sw": sliced_wasserstein(x, truth, ev["projections"], ev["projection_seed"]),
               "mismatch_truth": mismatch(lambda xt, s: mix.denoise(xt, s), d_fake, x, sigmas, lo, hi,
                                          core.sigma_data, ev["noise_seed"] + 1),
               "mismatch_teacher": mismatch(SigmaFormDenoiser(teacher), d_fake, x, sigmas, lo, hi, core.sigma_data,
                                            ev["noise_seed"] + 1)}
        if method == "disback":
            node = target_node(max(step - 1, 0), len(nodes) - 1, s2["interval"], s2["switch_rule"],
                               exp["path"]["interval"])
            node_net.net.load_state_dict(load_weights(nodes[node])[0])
            row["node"] = node
            row["mismatch_node"] = mismatch(SigmaFormDenoiser(node_net), d_fake, x, sigmas, lo, hi, core.sigma_data,
                                            ev["noise_seed"] + 1)
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
    stage_one = record_path(exp, core, teacher_path, out / "path", progress)
    nodes = path_nodes(exp, out / "path")
    runs, rows = {}, []
    for method in METHODS:
        for seed in exp["seeds"]:
            folder = out / "runs" / f"{method}-s{seed}"
            runs[f"{method}-s{seed}"] = distill_run(exp, core, method, seed, teacher_path, nodes, folder, progress)
            rows += evaluate(exp, core, method, seed, teacher_path, nodes, folder)
    curves = pd.DataFrame(rows)
    atomic_write(out / "curves.csv", lambda p: curves.to_csv(p, index=False, float_format="%.6g"))
    summary = {"teacher": {k: teacher[k] for k in ("wall_seconds", "steps", "status")},
               "stage_one": {k: stage_one[k] for k in ("wall_seconds", "steps", "status", "images_seen")},
               "runs": {k: {f: v[f] for f in ("wall_seconds", "steps", "status", "updates", "images_seen")}
                        for k, v in runs.items()},
               "wall_seconds": time.perf_counter() - start}
    write_record(out / "summary.json", summary, {"curves": out / "curves.csv"})
    return summary


def build_check(exp: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems the schema cannot express: evaluation points that do not divide the run, too few of them."""
    problems = []
    its, every = exp["stage_two"]["iterations"], exp["eval_every"]
    if its % every:
        problems.append(("eval_every", f"{every} does not divide stage_two.iterations {its}"))
    elif its // every < exp["min_eval_points"]:
        problems.append(("eval_every", f"{its // every} evaluation points after the start; the convergence curve "
                                       f"needs at least {exp['min_eval_points']}"))
    return problems

