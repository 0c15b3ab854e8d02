"""Guided distillation's commands' options and the work each of its computing jobs does (for `distill gpu-hours`),
named by its card (distill/plugins/guided.py)."""

from __future__ import annotations

from distill.bench.work import Unit, protocol_images, sampler_steps, source_of_model
from distill.commands.options import (captions_option, extractor_weights_option, finite_float, floor_option,
                                     positive_int, report_io)
from distill.commands.paths import output, run_folder
from distill.experiment_views import experiment_settings
from distill.core.samplers import SAMPLERS
from distill.plugins.guided import W_LINE, model_path_of, round_updates


def parse_weights(text: str) -> list[float]:
    values = [finite_float(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 0 for v in values):
        raise ValueError(f"--weights must list guidance weights >= 0, e.g. 0,0.3,1; got {text!r}")
    return values


def _line_option(p):
    p.add_argument("--line", default=W_LINE,
                   help=f"'{W_LINE}' (the w-conditioned student, w ~ U[w_range]) or 'w<value>' (a fixed_w.weights "
                        "student, the baseline)")


def stage_one_options(p):
    _line_option(p)
    p.add_argument("--teacher", required=True, help="model.safetensors of the guided teacher (trained with a null "
                                                    "label, or a text-to-image teacher: its null is the empty prompt)")
    captions_option(p)
    run_folder(p, "model.safetensors, model.json, summary.json")


def round_options(p):
    _line_option(p)
    p.add_argument("--student-steps", type=positive_int, required=True, help="N, the student's sampling steps")
    p.add_argument("--teacher", required=True, help="model.safetensors of the stage-one student or of the previous "
                                                    "round's (2N steps)")
    captions_option(p)
    run_folder(p, "model.safetensors, model.json, summary.json")


def sweep_options(p):
    p.add_argument("--model", required=True, help="'teacher' or '<line>-n<N>' (a student of this experiment)")
    p.add_argument("--sampler", required=True, choices=sorted(SAMPLERS))
    p.add_argument("--steps", type=positive_int, required=True, help="sampling steps")
    p.add_argument("--weights", required=True, help="comma-separated guidance weights, e.g. 0,0.3,1,2,4")
    p.add_argument("--reference", required=True, help="reference statistics (.npz) of the data")
    extractor_weights_option(p)
    output(p, "--out-dir", folder=True, required=True, help="folder of the metrics records w<w>.json and grids")


def report_options(p):
    report_io(p, "output JSON summary (DVC metrics; claim subject)")
    floor_option(p)
    p.add_argument("--rows", required=True, help="output: this experiment's part of the results table (CSV)")


def stage_one_work(cfg, args, producers):
    exp = experiment_settings(cfg, "guided", args.experiment)
    return [(Unit("train", ("guided", args.experiment), ("guided", "stage_one")), exp["stage_one"]["updates"])]


def round_work(cfg, args, producers):
    exp = experiment_settings(cfg, "guided", args.experiment)
    return [(Unit("train", ("guided", args.experiment), ("guided", "round")), round_updates(exp, args.student_steps))]


def sweep_work(cfg, args, producers):
    """Per w: the sampler's steps (two network passes per step for the guided teacher) and the features."""
    n = len(parse_weights(args.weights))
    model = model_path_of(args.model, args.out_dir, cfg, args.experiment)
    passes = 2 if args.model == "teacher" else 1
    return [(Unit("sampler_step", source_of_model(model, producers)),
             n * passes * sampler_steps(cfg, args.steps, protocol_images(cfg))),
            (Unit("features"), n * protocol_images(cfg))]
