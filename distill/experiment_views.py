"""The profile as one experiment sees it: a method's experiments (with their training-seed and budget-trend copies),
one experiment's settings, and the profile with the experiment's own data, network, teacher training and method
sections in place of the profile's (what a command run with --method and --experiment reads)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from distill.errors import ConfigError
from distill.registry import REGISTERED


def method_experiments(cfg: Mapping[str, Any], method: str) -> dict[str, Any]:
    """A method's experiments; for each seed of `<method>.spread_seeds` a copy of every experiment trained with
    that seed, named `<experiment>_s<seed>` (the runs of the training-seed spread target); for each factor k of
    `<method>.trend.factors` a copy with the settings `trend.scale` names multiplied by k and those `trend.set` names
    replaced, named `<experiment>_x<k>` (the runs of a budget trend)."""
    section = cfg.get(method) or {}
    found = dict(section.get("experiments") or {})
    trend = section.get("trend") or {}
    for name, exp in (section.get("experiments") or {}).items():
        for seed in section.get("spread_seeds") or []:
            found[spread_experiment(name, seed)] = {**exp, "seed": seed}
        for k in trend.get("factors") or []:
            found[trend_experiment(name, k)] = scaled(exp, k, trend.get("scale") or [], trend.get("set") or {})
    return found


def trend_experiment(name: str, factor: int) -> str:
    return f"{name}_x{factor}"


def scaled(exp: Mapping[str, Any], factor: int, scale: list[str], replace: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an experiment with each dotted setting of `scale` multiplied by `factor` and each of `replace` set."""
    out = copy.deepcopy(dict(exp))

    def parent(path: str) -> tuple[dict[str, Any], str]:
        *head, last = path.split(".")
        node = out
        for key in head:
            node = node[key]
        if last not in node:
            raise ConfigError(f"trend setting {path!r} is not a setting of the experiment")
        return node, last

    for path in scale:
        node, key = parent(path)
        node[key] = node[key] * factor
    for path, value in replace.items():
        node, key = parent(path)
        node[key] = value
    return out


def spread_experiment(name: str, seed: int) -> str:
    return f"{name}_s{seed}"


def experiment_settings(cfg: Mapping[str, Any], method: str, experiment: str) -> dict[str, Any]:
    """One experiment of `<method>.experiments` or one of its spread copies (`<experiment>_s<seed>`); a clear error
    naming the defined ones otherwise."""
    experiments = method_experiments(cfg, method)
    if experiment not in experiments:
        raise ConfigError(f"{method} experiment {experiment!r} is not in params.yaml (profile {cfg['profile']!r} has "
                          f"{sorted(experiments)})")
    return experiments[experiment]


def method_sections(cfg: Mapping[str, Any], method: str | None, experiment: str | None) -> dict[str, Any]:
    """The method sections an experiment holds under the methods' names (a text_to_image experiment's sfd and
    disback), which replace the profile's while a command runs for it; none without an experiment."""
    if experiment is None or method is None:
        return {}
    exp = experiment_settings(cfg, method, experiment)
    return {name: exp[name] for name in REGISTERED if isinstance(exp.get(name), Mapping)}


def experiment_profile(cfg: Mapping[str, Any], method: str | None, experiment: str | None) -> dict[str, Any]:
    """The profile as one experiment of a method sees it: the experiment's own data, network and teacher training
    (keys data, network, teacher_training of `<method>.experiments.<experiment>`) where it sets them (non-null), the
    profile's otherwise; the method's own section with the experiment's settings in place of the section's (an SFD
    experiment names only what differs from the section's: its teacher, data, solvers); and a method's whole section
    where the experiment holds one under the method's name (the text_to_image experiments hold the SFD and DisBack
    settings of their teachers). No experiment returns the profile unchanged."""
    if experiment is None:
        return dict(cfg)
    if method is None:
        raise ConfigError(f"--experiment {experiment} needs --method (the params.yaml section it belongs to)")
    if (cfg.get(method) or {}).get("experiments") is None:
        raise ConfigError(f"profile {cfg['profile']!r} has no {method}.experiments in params.yaml")
    exp = experiment_settings(cfg, method, experiment)
    return {**cfg, method: {**cfg[method], **exp}, **method_sections(cfg, method, experiment),
            "data": exp.get("data") or cfg["data"], "network": exp.get("network") or cfg["network"],
            "teacher": exp.get("teacher_training") or cfg["teacher"]}


def text_to_image_teacher(cfg: Mapping[str, Any], method: str) -> Mapping[str, Any] | None:
    """The teacher ({diffusers: <artifact>}) of the text_to_image experiment whose `method` section the profile holds
    (the profile as that experiment sees it, `experiment_profile`), else None: PD's and guided distillation's sections
    name no teacher of their own."""
    for exp in ((cfg.get("text_to_image") or {}).get("experiments") or {}).values():
        if exp.get(method) is not None and exp.get(method) == cfg.get(method):
            return exp["teacher"]
    return None
