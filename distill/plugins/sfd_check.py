"""The checks of an `sfd` section that its schema cannot express, named by SFD's card (distill/plugins/sfd.py)."""

from __future__ import annotations

from distill.core.grids import make_grid, sigma_range_problems
from distill.core.samplers import get_sampler
from distill.core.schedule import CosineSchedule
from distill.experiment_views import experiment_profile
from distill.plugins.sfd import (gits_points, iterations, run_settings, solver_grid, solver_steps, step_counts,
                                 student_nfe)
from distill.plugins.sfd_layout import experiment_of, experiments


def check(cfg) -> list[tuple[str, str]]:
    """Each run's settings make a student: its step counts, its second-stage teacher, its teacher solver's options;
    each solver row's options and grid; the budget curve's runs and iterations. The same for each experiment, on the
    section as it sees it (its problems named under sfd.experiments.<name>)."""
    out = _check_section(cfg)
    if experiment_of(cfg) is None:
        for name in experiments(cfg):
            out += [(f"sfd.experiments.{name}: {where}", problem)
                    for where, problem in _check_section(experiment_profile(cfg, "sfd", name))]
    return out


def _check_section(cfg) -> list[tuple[str, str]]:
    out, section = [], cfg["sfd"]
    out += sigma_range_problems("sfd.grid", section["grid"], CosineSchedule())
    for run in section["runs"]:
        s, where = run_settings(cfg, run), f"sfd.runs.{run}"
        if (section["runs"][run] or {}).get("grid"):  # a run's own grid: its merged range, named by the run's key
            out += sigma_range_problems(f"{where}.grid", s["grid"], CosineSchedule())
        counts = step_counts(s)
        if s["kind"] == "sfd-v" and section["teacher"].get("edm"):
            out.append((where, "SFD-v gives the student a `steps` condition, which an imported EDM network has no "
                               "embedding for; distil a Table 1 teacher for SFD-v"))
        if s["kind"] == "sfd-v" and len(counts) < 2:
            out.append((where, "an SFD-v run draws num_steps from a list of at least two counts"))
        if s["kind"] != "sfd-v" and len(counts) != 1:
            out.append((where, f"a {s['kind']} run has one num_steps, not a list"))
        if any(student_nfe(n, s["afs"]) < 1 for n in counts):
            out.append((where, f"num_steps {counts} with afs={s['afs']} leaves no network evaluation to train"))
        if s["kind"] == "second-stage":
            first = s.get("teacher_run")
            if first not in section["runs"] or run_settings(cfg, first)["kind"] == "second-stage":
                out.append((f"{where}.teacher_run", f"{first!r} is not a first-stage run of sfd.runs"))
        elif s.get("teacher_run") is not None:
            out.append((f"{where}.teacher_run", "only a second-stage run has a first-stage teacher"))
        try:
            get_sampler(s["teacher_solver"]["sampler"]).check_options(s["teacher_solver"]["options"])
        except ValueError as exc:
            out.append((f"{where}.teacher_solver", str(exc)))
    for name, nfe in gits_points(cfg):
        if name not in section["solvers"]:
            out.append(("sfd.gits.solvers", f"{name!r} is not a solver of sfd.solvers {sorted(section['solvers'])}"))
            continue
        try:
            if solver_steps(cfg, name, nfe) > section["gits"]["teacher_steps"]:
                out.append(("sfd.gits.teacher_steps", f"NFE {nfe} of {name} needs more states than the teacher grid"))
        except ValueError as exc:
            out.append(("sfd.gits.nfe", str(exc)))
    for name in section["solvers"]:
        try:
            get_sampler(section["solvers"][name]["sampler"]).check_options(section["solvers"][name]["options"])
            grid, grid_options = solver_grid(cfg, name)
            for nfe in section["solvers"][name]["nfe"]:
                make_grid(grid, solver_steps(cfg, name, nfe), **grid_options)
        except ValueError as exc:
            out.append((f"sfd.solvers.{name}", str(exc)))
    out += _check_curve(cfg)
    return out


def _check_curve(cfg) -> list[tuple[str, str]]:
    """The curve's runs are first-stage runs, its iterations increase and end at each run's budget."""
    c = cfg["sfd"].get("curve")
    if not c:
        return []
    out, its = [], list(c["iterations"])
    if its != sorted(set(its)):
        out.append(("sfd.curve.iterations", f"{its} must increase"))
    for run in c["runs"]:
        if run not in cfg["sfd"]["runs"]:
            out.append(("sfd.curve.runs", f"{run!r} is not a run of sfd.runs {sorted(cfg['sfd']['runs'])}"))
            continue
        s = run_settings(cfg, run)
        if s["kind"] == "second-stage":
            out.append(("sfd.curve.runs", f"{run!r} is a second stage; the curve measures first-stage budgets"))
        elif its and its[-1] * len(step_counts(s)) != iterations(s):
            out.append(("sfd.curve.iterations", f"the curve ends at {its[-1]} iterations per step count, run {run!r} "
                                                f"trains {iterations(s)} over {len(step_counts(s))} step count(s): "
                                                "the last point must be the run's budget"))
    return out
