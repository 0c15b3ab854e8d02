"""DisBack's steps on any teacher (a digits U-Net, an imported EDM network, the toy2d MLP): the degradation path
(stage 1), a generator trained with or without backtracking (stage 2), and the score mismatch of a saved point.

Settings (a DisBack experiment's section of params.yaml): `core` (distill.methods.disback.ScoreDistillation),
`path` {nodes, interval, batch_size, seed}, `stage_two` {iterations, interval, switch_rule, batch_size}, `train` (the
optimizer settings of every network: distill.core.training.TrainConfig), `eval_every` (the snapshot interval of
stage 2: its evaluation points).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from distill.core import owned_folder
from distill.core.checkpoint import load_weights, save_weights
from distill.core.denoiser import SigmaFormDenoiser
from distill.core.guidance import PromptGuided
from distill.core.provenance import write_record
from distill.core.snapshots import Snapshots, read_snapshots
from distill.core.training import Part, TrainConfig, precision_record, train_parts
from distill.core.weighting import loss_weight
from distill.methods.disback import (ScoreDistillation, degradation_step, draw_sigmas, generate, noised,
                                     score_distillation_step, target_node)
from distill.pipeline import evaluate, sample
from distill.pipeline.common import load_denoiser, setup_torch
from distill.pipeline.conditions import training_conditions, training_prompts

METHODS = ("disback", "baseline")
LABELS = {"disback": "DisBack", "baseline": "Baseline (no backtracking)"}
KIND_GENERATOR = "disback-generator"
WEIGHTS, SUMMARY = "model.safetensors", "summary.json"
# what `distill disback-curve` adds to the points' folder: the final generator's record, grid and the curve
CURVE_FILES = {"final.json", "final.png", "final.npz", "curve.csv"}


def train_config(exp: dict[str, Any], steps: int, seed: int, batch_size: int, precision: str = "fp32") -> TrainConfig:
    return TrainConfig.from_params({**exp["train"], "steps": steps, "batch_size": batch_size, "precision": precision},
                                   seed)


def network_config(teacher_cfg: dict[str, Any]) -> dict[str, Any]:
    """The config saved beside a copy of the teacher's network (a path node, a fake score): the teacher's, less its
    training status."""
    return {k: v for k, v in teacher_cfg.items() if k != "status"}


def copy_of(teacher_path: Path, device, weights: dict[str, torch.Tensor] | None = None, trained: bool = True):
    """A copy of the teacher (its weights, or `weights` of the same network), trainable or frozen."""
    net, _ = load_denoiser(teacher_path, device)
    if weights is not None:
        net.net.load_state_dict(weights)
    return net.train().requires_grad_(True) if trained else net.eval().requires_grad_(False)


def generator_config(teacher_cfg: dict[str, Any], core: ScoreDistillation, method: str, seed: int,
                     status: str = "completed", levels: torch.Tensor | None = None) -> dict[str, Any]:
    """A generator's model config: the teacher's network, sampled in one step at its initial sigma (the `onestep`
    sampler on the one-state `edm` grid, with the VP input on a teacher's own grid: distill/core/sigma_solvers.py),
    so `distill sample` (`distill sample-text` for a text-to-image teacher) draws what training drew."""
    base = {k: v for k, v in teacher_cfg.items() if k not in ("status", "sampling", "kind")}
    sigma = core.initial_sigma(levels)
    return {**base, "kind": KIND_GENERATOR, "method": method, "seed": seed, "status": status,
            "sampling": {"sampler": "onestep", "steps": 1, "options": {"input": "vp"} if core.vp_input else {},
                         "grid": "edm", "grid_options": {"sigma_max": sigma, "sigma_min": min(core.sigma_min, sigma),
                                                         "rho": core.rho}}}


def teacher_levels(teacher) -> torch.Tensor | None:
    """The training levels of a teacher that has them (a diffusers teacher: DiffusersDenoiser.levels), else none."""
    return teacher.levels() if hasattr(teacher, "levels") else None


def real_score(net, core: ScoreDistillation, encoder=None) -> SigmaFormDenoiser:
    """The real score of a network (the teacher or a path node) in the sigma form, guided with core.real_guidance
    (a text-to-image teacher's classifier-free guidance, its unconditional branch the null prompt of its prompt
    `encoder`)."""
    if not core.real_guidance:
        return SigmaFormDenoiser(net)
    if encoder is None:
        raise ValueError(f"core.real_guidance {core.real_guidance}: the real score's guidance needs a text-to-image "
                         "teacher (its null prompt); this teacher takes none, set real_guidance 0")
    return SigmaFormDenoiser(PromptGuided(net, core.real_guidance, encoder.null(1)))


def record_path(exp: dict[str, Any], teacher_path: Path, out: Path, device="cpu", progress: bool = True,
                precision: str = "fp32", prompts: str | Path | None = None) -> dict:
    """Stage 1: a copy of the teacher fine-tuned on the initial generator's samples, N + 1 nodes saved (node 0 the
    teacher) with their manifest in out/nodes; a text-to-image teacher's batches take prompts of the file
    `prompts`."""
    core, p = ScoreDistillation.from_params(exp["core"]), exp["path"]
    _, teacher_cfg = load_weights(teacher_path)
    score, generator = copy_of(teacher_path, device), copy_of(teacher_path, device, trained=False)
    step = degradation_step(core, SigmaFormDenoiser(generator), SigmaFormDenoiser(score),
                            tuple(teacher_cfg["data"]["shape"]), p["batch_size"], device,
                            training_conditions(teacher_cfg, p["batch_size"], device, prompts),
                            levels=teacher_levels(generator))
    cfg = train_config(exp, p["nodes"] * p["interval"], p["seed"], p["batch_size"], precision)
    result, _ = train_parts({"score": Part(score.net, cfg)}, step, cfg, out, "DisBack stage 1: degradation path",
                            progress, fingerprint={"core": exp["core"], "path": p, "train": exp["train"],
                                                   "teacher": str(teacher_path), **precision_record(precision)},
                            snapshots=Snapshots(out / "nodes", p["interval"], ("score",),
                                                {"score": network_config(teacher_cfg)}))
    summary = {**result.summary(), "nodes": p["nodes"], "interval": p["interval"]}
    write_record(out / SUMMARY, summary, {"teacher": teacher_path})
    return summary


def path_nodes(path_dir: Path, nodes: int, interval: int) -> list[Path]:
    """Nodes 0..nodes of a recorded path (a path recorded with more nodes at the same interval serves: its first
    nodes + 1), each verified against the manifest."""
    files = read_snapshots(Path(path_dir) / "nodes", "score")
    by_step = dict(files)
    want = [i * interval for i in range(nodes + 1)]
    missing = [s for s in want if s not in by_step]
    if missing:
        raise ValueError(f"the path in {path_dir} has no node at stage-1 steps {missing}: it was recorded every "
                         f"{files[1][0] if len(files) > 1 else '?'} steps up to {files[-1][0]}; record it with "
                         f"path.interval {interval} and at least {nodes} nodes")
    return [by_step[s] for s in want]


def train_generator(exp: dict[str, Any], method: str, seed: int, teacher_path: Path, nodes: list[Path] | None,
                    out: Path, device="cpu", progress: bool = True, stage_two: dict[str, Any] | None = None,
                    precision: str = "fp32", prompts: str | Path | None = None) -> dict:
    """Stage 2 (or the baseline, nodes None): the generator and the fake score, both from the teacher (DisBack's
    fake score from the path's last node), snapshots at every `eval_every` iterations in out/points, the final
    generator as out/model.safetensors (samples with `onestep`) and out/summary.json."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if (method == "disback") != (nodes is not None):
        raise ValueError("DisBack needs its path's nodes; the baseline takes none")
    core, s2 = ScoreDistillation.from_params(exp["core"]), stage_two or exp["stage_two"]
    _, teacher_cfg = load_weights(teacher_path)
    shape, batch = tuple(teacher_cfg["data"]["shape"]), s2["batch_size"]
    generator = copy_of(teacher_path, device)
    fake = copy_of(teacher_path, device, load_weights(nodes[-1])[0] if nodes else None)
    real, current = copy_of(teacher_path, device, trained=False), {"node": 0}  # node 0: the teacher

    source = training_prompts(teacher_cfg, prompts, device)  # the text encoders, loaded once
    real_d, levels = real_score(real, core, source[1] if source else None), teacher_levels(real)

    def real_at(step: int):
        if nodes:
            node = target_node(step, len(nodes) - 1, s2["interval"], s2["switch_rule"], exp["path"]["interval"])
            if node != current["node"]:
                real.net.load_state_dict(load_weights(nodes[node])[0])
                current["node"] = node
        return real_d

    step = score_distillation_step(core, SigmaFormDenoiser(generator), SigmaFormDenoiser(fake), real_at, shape, batch,
                                   device, training_conditions(teacher_cfg, batch, device, source=source),
                                   levels=levels)
    cfg = train_config(exp, s2["iterations"], seed, batch, precision)
    fingerprint = {"method": method, "seed": seed, "core": exp["core"], "stage_two": s2, "train": exp["train"],
                   "eval_every": exp["eval_every"], "teacher": str(teacher_path),
                   "path": [str(n) for n in nodes or []], **precision_record(precision)}
    result, weights = train_parts(
        {"generator": Part(generator.net, cfg), "fake_score": Part(fake.net, cfg)}, step, cfg, out,
        f"DisBack stage 2: {method} s{seed}" if nodes else f"score distillation (baseline) s{seed}", progress,
        fingerprint=fingerprint,
        snapshots=Snapshots(out / "points", exp["eval_every"], ("generator", "fake_score"),
                            {"generator": generator_config(teacher_cfg, core, method, seed, levels=levels),
                             "fake_score": network_config(teacher_cfg)}))
    summary = {**result.summary(), "method": method, "seed": seed, "iterations": s2["iterations"],
               "interval": s2["interval"], "nodes": len(nodes) - 1 if nodes else 0}
    save_weights(out / WEIGHTS, weights["generator"],
                 generator_config(teacher_cfg, core, method, seed, result.status, levels))
    write_record(out / SUMMARY, summary, {"teacher": teacher_path, "weights": out / WEIGHTS})
    return summary


def points(exp: dict[str, Any], stage_two: dict[str, Any] | None = None) -> list[int]:
    """The evaluation points of stage 2: 0, eval_every, ..., iterations."""
    return list(range(0, (stage_two or exp["stage_two"])["iterations"] + 1, exp["eval_every"]))


def node_at(exp: dict[str, Any], point: int, nodes: int, stage_two: dict[str, Any] | None = None) -> int:
    """The path node DisBack's generator was trained against just before evaluation point `point`."""
    s2 = stage_two or exp["stage_two"]
    return target_node(max(point - 1, 0), nodes, s2["interval"], s2["switch_rule"], exp["path"]["interval"])


def mismatch(d_target, d_fake, x: torch.Tensor, core: ScoreDistillation, seed: int, cond=None) -> float:
    """E over sigma (the generator's range of the grid) and noise of (sigma^-2 + sigma_data^-2) ||D_target -
    D_fake||^2 / dims at x_sigma = x + sigma eps: the fake-score loss's weighting of sigma^2 (s_target - s_fake)."""
    sigmas, (lo, hi) = core.sigmas(), core.generator_range()
    g = torch.Generator().manual_seed(seed)
    sigma = draw_sigmas(sigmas, x.shape[0], lo, hi, g)
    x_t = noised(x, sigma, g)
    with torch.no_grad():
        diff = (d_target(x_t, sigma, cond) - d_fake(x_t, sigma, cond)).double().pow(2).flatten(1).mean(dim=1)
    return float((loss_weight("edm", -2.0 * torch.log(sigma), core.sigma_data) * diff).mean())


def evaluate_points(cfg: dict[str, Any], exp: dict[str, Any], run_dir: Path, teacher_path: Path,
                    nodes: list[Path] | None, reference: str | Path, extractor_weights: str | None, out_dir: Path,
                    threads: int | None = None, progress: bool = True,
                    stage_two: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every evaluation point of a stage-2 run: the generator's samples (`curve` seed ranges of the protocol) through
    the protocol (FID, IS), and the score mismatch on them between the fake score and the original teacher (and, for
    DisBack, its current path node). One metrics record per point in out_dir (written whole: a hidden work folder
    renamed at the end; an existing out_dir holding anything else is refused before any work)."""
    device = setup_torch(threads, cfg["device"])
    core, curve = ScoreDistillation.from_params(exp["core"]), exp["curve"]
    ecfg = {**cfg, "evaluation": {**cfg["evaluation"], "seed_ranges": curve["seed_ranges"],
                                  "kid_subsets": curve["kid_subsets"]}}
    its = points(exp, stage_two)
    out_dir = Path(out_dir)
    own = ({f"i{step:07d}{ext}" for step in its for ext in (".json", ".png")} | CURVE_FILES).__contains__
    work = owned_folder.start(out_dir, "disback-points", own)
    gens = read_snapshots(Path(run_dir) / "points", "generator", its)
    fakes = dict(read_snapshots(Path(run_dir) / "points", "fake_score", its))
    teacher = copy_of(teacher_path, device, trained=False)
    node_net = copy_of(teacher_path, device, trained=False)
    rows = []
    for step, gen_file in gens:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            samples = Path(tmp) / "samples.npz"
            sample.run(ecfg, gen_file, None, samples, threads, progress)
            record = evaluate.run(ecfg, samples, reference, work / f"i{step:07d}.json", work / f"i{step:07d}.png",
                                  extractor_weights, threads)
        generator, gen_cfg = load_denoiser(gen_file, device)
        fake = SigmaFormDenoiser(load_denoiser(fakes[step], device)[0])
        g = torch.Generator().manual_seed(curve["mismatch_seed"])
        z = torch.randn(curve["mismatch_samples"], *gen_cfg["data"]["shape"], generator=g).to(device)
        cond = training_conditions(gen_cfg, z.shape[0], device)(g)  # class labels after the noise
        with torch.no_grad():
            x = generate(SigmaFormDenoiser(generator), z, core.initial_sigma(teacher_levels(generator)), cond,
                         core.vp_input)
        row = {"iteration": step, "status": record["status"],
               "fid": (record.get("metrics") or {}).get("fid", {}).get("min"),
               "is": (record.get("metrics") or {}).get("is", {}).get("min"),
               "mismatch_teacher": mismatch(SigmaFormDenoiser(teacher), fake, x, core, curve["mismatch_seed"] + 1,
                                            cond)}
        if nodes:
            node = node_at(exp, step, len(nodes) - 1, stage_two)
            node_net.net.load_state_dict(load_weights(nodes[node])[0])
            row.update(node=node, mismatch_node=mismatch(SigmaFormDenoiser(node_net), fake, x, core,
                                                         curve["mismatch_seed"] + 1, cond))
        rows.append(row)
    owned_folder.finish(work, out_dir, "disback-points", own)
    return rows
