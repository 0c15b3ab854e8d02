"""The text-to-image targets' plan (params.yaml `text_to_image`; workflows/text_to_image.smk runs it): for each
experiment, its imported teacher, the methods that distil it (SFD and DisBack, each run by its own command on the
profile as the experiment sees it: distill.config.experiment_profile) and every point of its table (the teacher's
solvers, each SFD student, each DisBack generator), each point sampled in parts of seeds and scored.

A point's name says what it is: `teacher-<solver>-nfe<N>`, `sfd-<run>`, and DisBack's runs by their own names
(disback-s<seed>; the baseline without backtracking, baseline-s<seed>)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.config import ConfigError, experiment_profile
from distill.data.artifacts import ARTIFACTS, TEXT_FOLDER, hub_need
from distill.plugins import disback as DB
from distill.plugins import sfd as S

METHOD = "text_to_image"  # the params.yaml section, and --method of the commands run for one of its experiments


@dataclass(frozen=True)
class Point:
    experiment: str
    name: str
    model: str  # the model.safetensors it samples
    args: tuple[str, ...] = field(default=())  # sample-text's sampler, steps, grid and guidance arguments
    method: str = ""  # teacher, sfd, disback or baseline
    run: str = ""


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
            "samples": f"{base}/points/{{point}}/samples-{{part}}.npz",
            "features": f"{base}/points/{{point}}/features-{{part}}.npz",
            "scores": f"{base}/points/{{point}}/scores.json"}


def files(cfg: dict[str, Any]) -> dict[str, str]:
    """The evaluation's fetched files: prompt file, FID statistics, the CLIP folder and a file inside it."""
    t = section(cfg)
    clip = hub_need(t["clip"])
    return {"prompts": str(TEXT_FOLDER / ARTIFACTS[t["prompts"]].file),
            "statistics": str(TEXT_FOLDER / ARTIFACTS[t["fid_reference"]].file),
            "clip": str(clip.folder), "clip_file": str(clip.target),
            "inception": str(cfg["evaluation"]["feature_extractor_weights"])}


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
                             (*guidance, *(("--steps", str(n)) if several else ())), "sfd", run))
    if exp.get("disback"):
        for run in DB.main_runs(v["disback"]["experiments"][experiment]):
            model = p["disback"].format(texp=experiment, drun=run) + "/model.safetensors"
            out.append(Point(experiment, run, model, (), DB.run_settings(
                v["disback"]["experiments"][experiment], run)["method"], run))
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
    """The training summaries of every distilled model (its cost, for the report)."""
    return [str(Path(q.model).parent / "summary.json") for e in section(cfg)["experiments"]
            for q in points(cfg, results, e) if q.method != "teacher"]
