"""The core pipeline commands: validate params, train the domain classifier and a teacher, sample, evaluate, and
EDM-style reference statistics and metrics by hand (fid). Declared here; their handlers are distill/handlers/."""

from __future__ import annotations

from distill.bench import work
from distill.commands.options import (common, extractor_weights_option, finite_float, float_range, floor_option,
                                      non_negative_int, positive_int)
from distill.commands.paths import output, run_folder
from distill.commands.spec import Command
from distill.core.grids import GRIDS
from distill.core.parameterization import PARAMETERIZATIONS
from distill.core.samplers import SAMPLERS
from distill.core.weighting import WEIGHTINGS
from distill.registry import load_registrations


def _import_edm_options(p):
    p.add_argument("--artifact", required=True, help="an EDM network of the artifact registry (e.g. edm_cifar10_vp)")
    p.add_argument("--pickle", default=None, help="the pickle (default: data/edm/<its file>, where `distill fetch` "
                                                   "puts it)")
    run_folder(p, "model.safetensors, model.json, summary.json")


def _train_classifier_options(p):
    run_folder(p, "model.safetensors, model.json, metrics.json")


def _train_teacher_options(p):
    p.add_argument("--parameterization", required=True, choices=PARAMETERIZATIONS)
    p.add_argument("--weighting", required=True, choices=WEIGHTINGS)
    p.add_argument("--seed", type=non_negative_int, default=0, help="training seed, >= 0 (default: %(default)s)")
    run_folder(p, "model.safetensors, model.json, summary.json, log.jsonl")


def _sample_options(p):
    load_registrations()  # a method's own samplers (its card's `registers`) are choices too

    p.add_argument("--model", required=True, help="model.safetensors of a trained model")
    p.add_argument("--sampler", choices=sorted(SAMPLERS),
                   help="required unless the model records its own sampler (an SFD student: Euler with its AFS on "
                        "its grid and num_steps, each filled in unless given). "
                        + "; ".join(f"{s.name}: {s.fn.__doc__.splitlines()[0]}" for s in SAMPLERS.values()))
    p.add_argument("--grid", default=None, choices=sorted(GRIDS),
                   help="grid of noise levels (default: the model's own, else uniform)")
    p.add_argument("--grid-option", action="append", metavar="KEY=VALUE",
                   help="an option of the grid, a number (the edm grid's rho, sigma_min, sigma_max; SFD samples "
                        "with sigma_min=0.002, sigma_max=80, rho=7); repeatable")
    p.add_argument("--num-samples", type=positive_int, default=None,
                   help="images to draw (default: evaluation.seed_ranges x evaluation.num_samples)")
    p.add_argument("--steps", type=positive_int, default=None, help="sampler steps (default: sampling.steps)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="a sampler option, checked against the options the sampler declares (e.g. afs=true, "
                        "max_order=3, gamma=0.5); repeatable. " + "; ".join(
                            f"{s.name}: {', '.join(f'{k} ({o.kind.__name__}) {o.help}' for k, o in s.options.items())}"
                            for s in SAMPLERS.values() if s.options))
    p.add_argument("--gamma", type=finite_float, default=None,
                   help="the ancestral sampler's variance exponent in [0, 1] (default: sampling.ancestral_gamma); "
                        "the same as --option gamma=G")
    p.add_argument("--guidance", type=finite_float, default=None, metavar="W",
                   help="classifier-free guidance weight w >= 0: x-hat = (1 + w) x-hat(c) - w x-hat(null) (a "
                        "class-conditional model trained with a null label; two network evaluations per step)")
    p.add_argument("--cond", action="append", metavar="KEY=VALUE",
                   help="a condition given to every sample (e.g. w=2.0 for a guidance weight, label=3); repeatable")
    output(p, "--out", required=True, help="output .npz")


def _solver_distances_options(p):
    sigma_solvers = [n for n, s in SAMPLERS.items() if "afs" in s.options]
    p.add_argument("--model", required=True, help="model.safetensors of a trained model")
    p.add_argument("--solvers", nargs="+", default=sigma_solvers, choices=sigma_solvers,
                   help="sigma-form solvers, each run without and with AFS (default: all)")
    p.add_argument("--nfe", nargs="+", type=positive_int, default=[5, 10], help="network evaluations (default: 5 10)")
    p.add_argument("--num-samples", type=positive_int, default=16, help="start states, seeds 0.. (default: 16)")
    p.add_argument("--sigma-max", type=finite_float, default=80.0, help="SFD's default: %(default)s")
    p.add_argument("--sigma-min", type=finite_float, default=0.002, help="SFD's default: %(default)s")
    p.add_argument("--rho", type=finite_float, default=7.0, help="the edm grid's exponent (default: %(default)s)")
    output(p, "--out", default=None, help="also write the table as CSV")


def _evaluate_options(p):
    p.add_argument("--samples", required=True, help=".npz written by `distill sample`")
    p.add_argument("--reference", required=True, help="reference statistics .npz (`distill fid ref`)")
    extractor_weights_option(p)
    output(p, "--out", required=True, help="output metrics .json")
    output(p, "--grid", required=True, help="output PNG grid of the first 64 samples")


def _fid_actions(p):
    """fid's actions (ref, calc, curve), each with the common options."""
    fid_sub = p.add_subparsers(dest="fid_command", required=True, metavar="ACTION")
    q = fid_sub.add_parser("ref", help="compute reference statistics (.npz) of real images",
                           description="Features of real images under evaluation.feature_extractor: FID mean and "
                                       "covariance plus the features KID/PR/PRDC need. Default images: the profile's "
                                       "data set.")
    common(q)
    q.add_argument("--images", default=None, help="folder, .zip or .npz of images (default: the profile's data set)")
    float_range(q)
    extractor_weights_option(q)
    output(q, "--out", required=True, help="output .npz")
    q = fid_sub.add_parser("calc", help="protocol metrics of images (folder, .zip, .npz) or of a model",
                           description="Evaluate images, or a model sampled on the protocol's seeds, against "
                                       "reference statistics; print the metrics as JSON.")
    common(q)
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder, .zip or .npz of generated images, ordered by seed")
    src.add_argument("--model", help="model.safetensors to sample from")
    q.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help="with --model")
    q.add_argument("--ref", required=True, help="reference statistics .npz")
    float_range(q)
    extractor_weights_option(q)
    output(q, "--out", default=None, help="also write the JSON here")
    q = fid_sub.add_parser("curve", help="FID against the number of samples (choose evaluation.num_samples)",
                           description="FID of evaluation.curve.sizes images on each of seed_ranges disjoint ranges.")
    common(q)
    q.add_argument("--samples", required=True, help=".npz with at least max(sizes) x seed_ranges samples")
    q.add_argument("--reference", required=True)
    extractor_weights_option(q)
    floor_option(q)
    output(q, "--pdf", required=True)
    output(q, "--csv", required=True)
    q = fid_sub.add_parser("floor", help="the protocol's FID floor: real images through the same protocol",
                           description="What a perfect generator scores: real images of the profile's data set, "
                                       "seed_ranges ranges of num_samples drawn with replacement, through the same "
                                       "protocol and reference statistics, with a split-half measure of the "
                                       "estimate's bias and the floor at every evaluation.curve size "
                                       "(distill/pipeline/floor.py). Writes a JSON record.")
    common(q)
    q.add_argument("--reference", required=True, help="reference statistics .npz")
    extractor_weights_option(q)
    output(q, "--out", required=True, help="output .json")


COMMANDS = (
    Command("check-params", "distill.handlers.core:check_params",
            "validate params.yaml against the schema and print the active profile",
            "Validate params.yaml against workflows/schema/params.schema.json (and each method's schema); exit 1 "
            "naming every bad key, else print the selected profile's settings as JSON."),
    Command("train-classifier", "distill.handlers.core:train_classifier",
            "train the domain classifier used as FID feature extractor",
            "Train the small CNN classifier on the profile's data set (a held-out split measures its accuracy); "
            "its penultimate features define FID on embedded data.", _train_classifier_options, job="classifier"),
    Command("import-edm", "distill.handlers.core:import_edm",
            "an official EDM network pickle as a teacher of the suite (no EDM code run)",
            "Read one of NVlabs' EDM network pickles (its sha256 checked against the artifact registry) without "
            "EDM's code: only the classes of the suite's own implementation of EDM's architectures are built, "
            "anything else in the file is refused. Writes a model folder every command loads like a trained "
            "teacher.", _import_edm_options),
    Command("train-teacher", "distill.handlers.teacher:train_teacher",
            "train one diffusion teacher (PD Algorithm 1); resumes if interrupted",
            "Continuous-time diffusion training with the given output parameterization and loss weighting. The "
            "training state is saved atomically every teacher.checkpoint_every steps; re-running the same "
            "command resumes and ends with the same weights. A non-finite loss stops training and is recorded "
            "as 'diverged' in summary.json.", _train_teacher_options, job="teacher", data_parallel=True,
            cost=work.train_teacher_work),
    Command("solver-distances", "distill.handlers.solvers:solver_distances",
            "how far each sigma-form solver lands from the exact ODE solution",
            "Run every EDM sigma-form solver (without and with AFS) at the given NFEs on SFD's edm grid and print the "
            "RMS distance of its samples from a high-accuracy reference solution of the same probability-flow ODE "
            "(SciPy's DOP853), from the same start states.", _solver_distances_options),
    Command("sample", "distill.handlers.sample:sample", "draw evaluation samples from a trained model",
            "Draw evaluation.num_samples images (seed i for image i, so results do not depend on the batch "
            "size) with any registered sampler on any grid; write an .npz.", _sample_options, job="sample",
            data_parallel=True, cost=work.sample_work),
    Command("evaluate", "distill.handlers.evaluate:evaluate",
            "evaluate a samples .npz under the protocol (FID, KID, IS, PR, PRDC)",
            "Evaluate the samples of `distill sample` against reference statistics under the protocol of "
            "params.yaml (evaluation.*): every metric on each of seed_ranges disjoint ranges of num_samples "
            "images, reported as minimum and mean. Writes a JSON record and a PNG grid of the first 64 samples.",
            _evaluate_options, job="evaluate", data_parallel=True, cost=work.evaluate_work),
    # its actions extract features (torch-fidelity runs on the GPU when there is one)
    Command("fid", "distill.handlers.fid:command",
            "reference statistics and metrics by hand (ref, calc, curve, floor), as EDM's fid.py",
            "ref: reference statistics of a data set; calc: protocol metrics of images or a model; curve: FID "
            "against the number of samples; floor: the protocol's FID of real images.", _fid_actions, job="evaluate",
            cost=work.fid_work, common=False),
)
