"""SFD's commands' options and the work each of its computing jobs does (for `distill gpu-hours`), named by its
card (distill/plugins/sfd.py)."""

from __future__ import annotations

from typing import Any

from distill.bench.work import Unit, protocol_images, sampler_steps, source_of_model
from distill.commands.options import (extractor_weights_option, floor_option, positive_int, prompts_option,
                                      report_io)
from distill.commands.paths import output, run_folder
from distill.plugins.sfd import (curve_iterations, iterations, run_settings, step_counts, student_nfe,
                                 teacher_evaluations)


def curve_options(p):
    p.add_argument("--run", required=True, help="a run of sfd.curve.runs")
    p.add_argument("--model", required=True, help="the run's model.safetensors (its snapshots/ lie beside it)")
    p.add_argument("--reference", required=True, help="reference statistics (.npz) of the data")
    extractor_weights_option(p)
    output(p, "--out-dir", folder=True, required=True, help="folder of the records it<I>-n<N>.json and grids")


def curve_work(cfg, args, producers):
    """Per point: the student's sampler steps over the protocol's images and their features."""
    settings = run_settings(cfg, args.run)
    points = len(curve_iterations(cfg, args.run)) * len(step_counts(settings))
    nfe = max(student_nfe(n, settings["afs"]) for n in step_counts(settings))
    return [(Unit("sampler_step", source_of_model(args.model, producers)),
             points * sampler_steps(cfg, nfe, protocol_images(cfg))), (Unit("features"), points * protocol_images(cfg))]


def gits_options(p):
    p.add_argument("--solver", required=True, help="a solver of sfd.solvers whose schedule is searched")
    p.add_argument("--nfe", required=True, type=positive_int, help="its network evaluations per sample")
    p.add_argument("--teacher", required=True, help="model.safetensors of the teacher")
    output(p, "--out", required=True, help="output .npz of the protocol's samples on the schedule found")
    output(p, "--schedule", required=True, help="output JSON: the schedule, its fine-grid indices, the search's cost")


def gits_work(cfg, args, producers):
    """The search's teacher trajectories (in sampler steps over batches) and the protocol's samples."""
    g = cfg["sfd"]["gits"]
    source = source_of_model(args.teacher, producers)
    return [(Unit("sampler_step", source), sampler_steps(cfg, 2 * g["teacher_steps"], g["trajectories"])
             + sampler_steps(cfg, args.nfe, protocol_images(cfg)))]


def train_options(p):
    p.add_argument("--run", required=True, help="a run of sfd.runs")
    p.add_argument("--teacher", required=True,
                   help="model.safetensors of the teacher (the second stage: of the first-stage student)")
    p.add_argument("--classifier", help="the domain classifier's model.safetensors (the second stage's perceptual "
                                        "term 'classifier')")
    prompts_option(p)
    run_folder(p, "model.safetensors, model.json, summary.json, log.jsonl")


def report_options(p):
    report_io(p, "output JSON summary")
    floor_option(p)
    p.add_argument("--rows", required=True, help="output: SFD's part of the results table (CSV)")
    p.add_argument("--others", nargs="*", default=[],
                   help="the results-table parts of the other methods that reproduce rows of SFD Table 2 (PD, KD)")


def network_passes(settings: dict[str, Any]) -> float:
    """Network passes of one iteration per trajectory: the teacher's forwards, the student's forward-backwards
    (about three forwards each), averaged over SFD-v's step counts."""
    counts = step_counts(settings)
    student = sum(student_nfe(n, settings["afs"]) for n in counts) / len(counts)
    return teacher_evaluations(settings) + 3 * student


def train_work(cfg, args, producers):
    """The run's iterations in units of the measured step (the first run of the section as the job's experiment sees
    it): scaled by its network passes per iteration (a second stage's teacher counted as a first-stage solver run;
    approximate)."""
    settings, first = run_settings(cfg, args.run), run_settings(cfg, next(iter(cfg["sfd"]["runs"])))
    scale = network_passes(settings) / network_passes(first) * (
        settings["train"]["batch_size"] / first["train"]["batch_size"])
    source = (args.method, args.experiment) if getattr(args, "experiment", None) else (None, None)
    return [(Unit("train", source, ("sfd", "sfd")), max(1, round(iterations(settings) * scale)))]
