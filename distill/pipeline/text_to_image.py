"""The text-to-image targets' plan (params.yaml `text_to_image`; workflows/text_to_image.smk runs it): for each
experiment, its imported teacher, the methods that distil it (SFD, DisBack, guided distillation, PD and CD, each run by
its own command on the profile as the experiment sees it: distill/experiment_views.py; guided distillation, PD and CD
on the teacher's caption latents) and every point of its table (the teacher's solvers, each SFD student, each DisBack
generator, the guided students at each sampler, step count and w, the PD students, the consistency model at each
time list), each point sampled in parts of seeds and scored.

A point's name says what it is: `teacher-<solver>-nfe<N>`, `sfd-<run>`, DisBack's runs by their own names
(disback-s<seed>; the baseline without backtracking, baseline-s<seed>), `guided-<model>-<sampler>-n<N>-w<w>` (the
teacher's guided baselines: model `teacher`; a w with its point as p), `pd-n<N>` and `cd-n<k>`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.config import ConfigError
from distill.experiment_views import experiment_profile
from distill.data.artifacts import ARTIFACTS, CAPTION_METHODS, TEXT_FOLDER, caption_set, hub_need
from distill.plugins import cd as CD
from distill.plugins import disback as DB
from distill.plugins import guided as G
from distill.plugins import pd_layout as PL
from distill.plugins import sfd as S
from distill.pipeline.train_teacher import SUMMARY

METHOD = "text_to_image"  # the params.yaml section, and --method of the commands run for one of its experiments


@dataclass(frozen=True)
class Point:
    experiment: str
    name: str
    model: str  # the model.safetensors it samples
    args: tuple[str, ...] = field(default=())  # sample-text's sampler, steps, grid and guidance arguments
    method: str = ""  # teacher, sfd, disback, baseline, guided or pd
    run: str = ""
    chain: tuple[str, ...] = field(default=())  # the training summaries that made the model (a round's: all before)


def section(cfg: dict[str, Any]) -> dict[str, Any] | None:
    return cfg.get(METHOD)


def view(cfg: dict[str, Any], experiment: str) -> dict[str, Any]:
    """The profile as the experiment's methods see it (its sfd and disback sections in place)."""
    return experiment_profile(cfg, METHOD, experiment)


def teacher_artifact(cfg: dict[str, Any], experiment: str) -> str:
    return section(cfg)["experiments"][experiment]["teacher"]["diffusers"]


def teacher_model(results: str, cfg: dict[str, Any], experiment: str) -> str:
    return f"{results}/teachers/{teacher_artifact(cfg, experiment)}/model.safetensors"


def resolution_of(cfg: dict[str, Any], artifact: str) -> int:
    """The image size the artifact's experiments ask for (one per artifact)."""
    sizes = {e["resolution"] for e in section(cfg)["experiments"].values() if e["teacher"]["diffusers"] == artifact}
    if len(sizes) != 1:
        raise ConfigError(f"text_to_image: the experiments of teacher {artifact} ask for resolutions {sorted(sizes)}; "
                          "one teacher is imported at one resolution")
    return sizes.pop()


def paths(results: str) -> dict[str, str]:
    base = f"{results}/{METHOD}/{{texp}}"
    return {"sfd": f"{base}/sfd/{{srun}}", "path": f"{base}/disback/path", "disback": f"{base}/disback/{{drun}}",
            "captions": f"{results}/{METHOD}/captions/{{tteacher}}",
            "guided_stage_one": f"{base}/guided/{{gline}}/stage1",
            "guided_round": f"{base}/guided/{{gline}}/n{{gsteps}}",
            "pd": f"{base}/pd/n{{pdn}}", "cd": f"{base}/cd",
            "samples": f"{base}/points/{{point}}/samples-{{part}}.npz",
            "features": f"{base}/points/{{point}}/features-{{part}}.npz",
            "scores": f"{base}/points/{{point}}/scores.json"}


def files(cfg: dict[str, Any]) -> dict[str, str]:
    """The evaluation's fetched files: prompt file, FID statistics, the CLIP folder and a file inside it; and the
    caption set's images (a file of its folder) and captions file, where the section names one."""
    t = section(cfg)
    clip = hub_need(t["clip"])
    out = {"prompts": str(TEXT_FOLDER / ARTIFACTS[t["prompts"]].file),
           "statistics": str(TEXT_FOLDER / ARTIFACTS[t["fid_reference"]].file),
           "clip": str(clip.folder), "clip_file": str(clip.target),
           "inception": str(cfg["evaluation"]["feature_extractor_weights"])}
    if t.get("captions"):
        images, captions = caption_set(t["captions"])
        out.update(images_file=str(images.target), images=str(images.target.parent), annotations=str(captions.target))
    return out


def draws_data(cfg: dict[str, Any], experiment: str) -> bool:
    """Whether the experiment runs a method that trains on the caption latents (PD, guided distillation)."""
    exp = section(cfg)["experiments"][experiment]
    return any(exp.get(m) for m in CAPTION_METHODS)


def wtag(w: float) -> str:
    """A guidance weight in a point's name: 6.5 -> '6p5' (names hold no dots)."""
    return G.wtag(w).replace(".", "p")


def guided_model(results: str, experiment: str, model: str) -> str:
    """model.safetensors of a guided student '<line>-n<N>' of a text-to-image experiment."""
    line, n = G.parse_model(model)
    return paths(results)["guided_round"].format(texp=experiment, gline=line, gsteps=n) + "/model.safetensors"


def guided_chain(results: str, experiment: str, exp: dict[str, Any], model: str) -> tuple[str, ...]:
    """The training summaries of a guided student and of every model before it: stage one, then each round."""
    line, n = G.parse_model(model)
    p = paths(results)
    rounds = [k for k in G.round_steps(exp["stage_two"]["start_steps"], n)]
    return (p["guided_stage_one"].format(texp=experiment, gline=line) + "/summary.json",
            *(p["guided_round"].format(texp=experiment, gline=line, gsteps=k) + "/summary.json" for k in rounds))


def pd_chain(results: str, experiment: str, exp: dict[str, Any], n: int) -> tuple[str, ...]:
    """The training summaries of PD's N-step student and of every round before it."""
    return tuple(paths(results)["pd"].format(texp=experiment, pdn=k) + "/summary.json"
                 for k in PL.student_steps(exp["teacher_steps"]) if k >= n)


def points(cfg: dict[str, Any], results: str, experiment: str) -> list[Point]:
    """Every point of one experiment's table, in its order: the teacher's solvers, the SFD students, the DisBack
    generators."""
    exp, p = section(cfg)["experiments"][experiment], paths(results)
    guidance = ("--guidance", str(exp["guidance"]))
    out = []
    v = view(cfg, experiment)
    if exp.get("sfd"):
        for solver, nfe in S.solver_points(v):
            s = v["sfd"]["solvers"][solver]
            grid, grid_options = S.solver_grid(v, solver)
            args = ("--sampler", s["sampler"], "--steps", str(S.solver_steps(v, solver, nfe)), "--grid", grid,
                    *(a for k, val in grid_options.items() for a in ("--grid-option", f"{k}={val}")),
                    *(a for k, val in s["options"].items() for a in ("--option", f"{k}={str(val).lower()}")),
                    *guidance)
            out.append(Point(experiment, f"teacher-{solver}-nfe{nfe}", teacher_model(results, cfg, experiment), args,
                             "teacher", solver))
        for run, n in S.student_points(v):  # an SFD-v student: one point per step count it samples with
            model = p["sfd"].format(texp=experiment, srun=run) + "/model.safetensors"
            several = len(S.step_counts(S.run_settings(v, run))) > 1
            out.append(Point(experiment, f"sfd-{run}" + (f"-n{n}" if several else ""), model,
                             (*guidance, *(("--steps", str(n)) if several else ())), "sfd", run,
                             (str(Path(model).parent / SUMMARY),)))
    if exp.get("disback"):
        for run in DB.main_runs(v["disback"]["experiments"][experiment]):
            model = p["disback"].format(texp=experiment, drun=run) + "/model.safetensors"
            out.append(Point(experiment, run, model, (), DB.run_settings(
                v["disback"]["experiments"][experiment], run)["method"], run, (str(Path(model).parent / SUMMARY),)))
    if exp.get("guided"):
        g = v["guided"]["experiments"][experiment]
        for model, sampler, n, weights in G.sweeps(g):
            if model == "teacher" and n == g["teacher_steps"]:
                continue  # the teacher's full-step rows are its solvers' (the SFD section's), not 1024 guided steps
            path = teacher_model(results, cfg, experiment) if model == "teacher" else guided_model(results, experiment,
                                                                                                   model)
            chain = () if model == "teacher" else guided_chain(results, experiment, g, model)
            for w in weights:  # the uniform grid on the teacher's own levels (sample-text's default for it)
                args = ("--sampler", sampler, "--steps", str(n), "--grid", "uniform", "--guidance", str(w))
                out.append(Point(experiment, f"guided-{model.replace('.', 'p')}-{sampler}-n{n}-w{wtag(w)}", path, args,
                                 "teacher" if model == "teacher" else "guided", f"{model} {sampler} n{n}", chain))
    if exp.get("pd"):
        pe = v["pd"]["experiments"][experiment]
        for n in exp["pd_steps"]:
            model = p["pd"].format(texp=experiment, pdn=n) + "/model.safetensors"
            out.append(Point(experiment, f"pd-n{n}", model, ("--sampler", "ddim", "--steps", str(n), "--grid",
                                                             "uniform", *guidance), "pd", f"n{n} ddim",
                             pd_chain(results, experiment, pe, n)))
    if exp.get("cd"):
        ce = v["cd"]["experiments"][experiment]
        model = p["cd"].format(texp=experiment) + "/model.safetensors"
        for k in CD.step_counts(ce):  # the official multistep sampler at the sigmas of the time list
            sigmas = ",".join(f"{s:.10g}" for s in CD.step_sigmas(ce, k))
            out.append(Point(experiment, f"cd-n{k}", model, ("--sigmas", sigmas, *guidance), "cd", f"n{k}",
                             (str(Path(model).parent / SUMMARY),)))
    return out


def point(cfg: dict[str, Any], results: str, experiment: str, name: str) -> Point:
    found = {q.name: q for q in points(cfg, results, experiment)}
    if name not in found:
        raise ValueError(f"text_to_image experiment {experiment!r} has no point {name!r} (it has {sorted(found)})")
    return found[name]


def parts(cfg: dict[str, Any]) -> list[tuple[int, int]]:
    """(first seed, images) of each part of a point: seeds 0 .. num_samples - 1 in runs of part_size."""
    t = section(cfg)
    n, size = t["num_samples"], t["part_size"]
    return [(k * size, min(size, n - k * size)) for k in range(math.ceil(n / size))]


def scores(cfg: dict[str, Any], results: str) -> list[str]:
    """Every point's scores file (the report's inputs)."""
    p = paths(results)
    return [p["scores"].format(texp=e, point=q.name) for e in section(cfg)["experiments"]
            for q in points(cfg, results, e)]


def targets(cfg: dict[str, Any]) -> list[str]:
    return ["reports/text_to_image.pdf"] if section(cfg) else []


def summaries(cfg: dict[str, Any], results: str) -> list[str]:
    """The training summaries of every distilled model and of the models before it (its cost, for the report)."""
    return sorted({f for e in section(cfg)["experiments"] for q in points(cfg, results, e) for f in q.chain})
