"""The checks of a `guided` section that its schema cannot express, named by its card (distill/plugins/guided.py)."""

from __future__ import annotations

from distill.experiment_views import experiment_profile, text_to_image_teacher
from distill.plugins.guided import round_steps


def teacher_problems(where: str, ecfg) -> list[tuple[str, str]]:
    """A guided experiment's own teacher can be guided: class-conditional data, a null label, label dropout."""
    out = []
    if not ecfg["data"].get("conditional"):
        out.append((f"{where}.data", "guided distillation needs class-conditional data: data.conditional: true"))
    if not ecfg["network"].get("null_label"):
        out.append((f"{where}.network", "the guided teacher needs a null label: network.null_label: true"))
    if not (ecfg["teacher"].get("label_dropout") or 0) > 0:
        out.append((f"{where}.teacher_training", "the guided teacher learns its unconditional model by label "
                                                 "dropout: set label_dropout > 0 (commonly 0.1)"))
    return out


def check(cfg) -> list[tuple[str, str]]:
    """Settings the schema cannot express: a teacher that can be guided, a sweep inside the w range, step counts the
    rounds make, fixed weights inside the range."""
    out = []
    of_text_to_image = text_to_image_teacher(cfg, "guided") is not None  # a text-to-image experiment's section
    for name, exp in cfg["guided"]["experiments"].items():
        where, ecfg = f"guided.experiments.{name}", experiment_profile(cfg, "guided", name)
        missing = [k for k in ("data", "network", "teacher_training") if exp.get(k) is None]
        if not of_text_to_image:  # a text-to-image section's teacher is its pipeline (config.text_to_image_problems)
            out += [(f"{where}.{missing[0]}", "a guided experiment trains its own teacher: set data, network and "
                                              "teacher_training (null only in a text_to_image experiment's section)")
                    ] if missing else teacher_problems(where, ecfg)
        lo, hi = exp["w_range"]
        if not 0 <= lo < hi:
            out.append((f"{where}.w_range", f"[w_min, w_max] must satisfy 0 <= w_min < w_max, got {exp['w_range']}"))
        for key, ws in (("sweep", exp["sweep"]), ("fixed_w.weights", exp["fixed_w"]["weights"])):
            bad = [w for w in ws if not lo <= w <= hi]
            if bad:
                out.append((f"{where}.{key}", f"{bad} lie outside w_range {exp['w_range']}: the student was not "
                                              "trained there"))
        try:
            made = round_steps(exp["stage_two"]["start_steps"])
        except ValueError as exc:
            out.append((f"{where}.stage_two.start_steps", str(exc)))
            continue
        bad = [n for n in exp["student_steps"] if n not in made]
        if bad:
            out.append((f"{where}.student_steps", f"{bad} are not made by the rounds from {exp['stage_two']['start_steps']} "
                                                  f"steps ({made})"))
        if exp["fixed_w"]["steps"] not in made:
            out.append((f"{where}.fixed_w.steps", f"{exp['fixed_w']['steps']} is not made by the rounds ({made})"))
    return out
