"""Where SFD's files live (plug-in distill/plugins/sfd.py): the section's and each experiment's students, samples,
evaluations and report, for the rules of workflows/methods/sfd.smk and the report (distill/reports/sfd.py); and which
experiment a profile's sfd section holds.

An experiment of sfd.experiments is the section run again on another teacher and data set (SFD Table 3 on EDM's
ImageNet-64 network); a command run with --method sfd --experiment <name> sees the section with the experiment's
settings in place (distill/experiment_views.py).
"""

from __future__ import annotations

from typing import Any


def experiments(cfg: dict[str, Any]) -> list[str]:
    """The names of sfd.experiments: the section run again on another teacher and data set (SFD Table 3 on EDM's
    ImageNet-64 network), each naming only what differs from the section (none without)."""
    return list((cfg.get("sfd") or {}).get("experiments") or {})


def experiment_of(cfg: dict[str, Any]) -> str | None:
    """The experiment whose settings the profile's sfd section holds (a command run with --method sfd --experiment
    <name> sees the section with the experiment's settings in place: distill/experiment_views.py); None for the
    section's own runs."""
    section = cfg["sfd"]
    for name, exp in (section.get("experiments") or {}).items():
        if all(section.get(k) == v for k, v in exp.items()):
            return name
    return None


def tag(experiment: str | None) -> str:
    """What an experiment's report, summary and results-table part add to SFD's names ('' for the section's)."""
    return f"_{experiment}" if experiment else ""


RULE_TEMPLATE = "{sexp}"  # paths(results, RULE_TEMPLATE): the rule files' templates, {sexp} '' or '<name>/'


def paths(results: str, experiment: str | None = None) -> dict[str, str]:
    """Where its files live (workflows/methods/sfd.smk and the report, distill/reports/sfd.py); {srun}, {sn},
    {ssolver} and {snfe} are filled per point. An experiment's files lie in a folder of its name inside each; its
    report, summary and results-table part carry `tag`. With RULE_TEMPLATE: the templates of workflows/methods/sfd.smk,
    whose wildcards {sexp} ('' or '<name>/') and {stag} ('' or '_<name>') name the experiment."""
    if experiment == RULE_TEMPLATE:
        e, t = RULE_TEMPLATE, "{stag}"
    else:
        e, t = (f"{experiment}/" if experiment else ""), tag(experiment)
    return {"student": f"{results}/sfd/{e}{{srun}}",
            "samples": f"{results}/sfd_samples/{e}{{srun}}/n{{sn}}.npz",
            "metrics": f"{results}/sfd_metrics/{e}{{srun}}/n{{sn}}.json",
            "grid": f"{results}/sfd_metrics/{e}{{srun}}/n{{sn}}.png",
            "solver_samples": f"{results}/sfd_samples/{e}solvers/{{ssolver}}-nfe{{snfe}}.npz",
            "solver_metrics": f"{results}/sfd_metrics/{e}solvers/{{ssolver}}-nfe{{snfe}}.json",
            "solver_grid": f"{results}/sfd_metrics/{e}solvers/{{ssolver}}-nfe{{snfe}}.png",
            "gits_samples": f"{results}/sfd_samples/{e}gits/{{ssolver}}-nfe{{snfe}}.npz",
            "gits_schedule": f"{results}/sfd_metrics/{e}gits/{{ssolver}}-nfe{{snfe}}-schedule.json",
            "gits_metrics": f"{results}/sfd_metrics/{e}gits/{{ssolver}}-nfe{{snfe}}.json",
            "gits_grid": f"{results}/sfd_metrics/{e}gits/{{ssolver}}-nfe{{snfe}}.png",
            "curve": f"{results}/sfd_metrics/{e}curve/{{srun}}",
            "pdf": f"reports/sfd{t}.pdf", "csv": f"reports/sfd{t}.csv", "json": f"{results}/sfd{t}.json",
            "rows": f"{results}/rows/sfd{t}.csv", "plots": f"{results}/plots/sfd{t}"}
