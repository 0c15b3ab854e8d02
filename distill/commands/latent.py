"""The text-to-image teachers' commands: a diffusers pipeline folder (Stable Diffusion 1.x/2.x, SDXL) imported as a
teacher, its training data (an image-caption set its VAE encodes), its evaluation images from a prompt file and
their scores. Declared here; their handlers are distill/handlers/latent.py."""

from __future__ import annotations

import argparse
from pathlib import Path

from distill.bench import work
from distill.commands.options import finite_float, non_negative_int, positive_int
from distill.commands.paths import input_folder, output, run_folder
from distill.commands.spec import Command
from distill.core.grids import GRIDS
from distill.core.samplers import SAMPLERS


def _import_options(p):
    p.add_argument("--name", required=True, help="the artifact's name in artifacts.lock.json (e.g. sd15, sdxl): its "
                                                 "files are recorded at its first import and verified after")
    p.add_argument("--folder", required=True, help="the diffusers pipeline folder (save_pretrained's layout)")
    p.add_argument("--resolution", type=positive_int, required=True,
                   help="the image size in pixels (SD 1.5: 512, SDXL: 1024; latents are an eighth of it a side)")
    run_folder(p, "model.safetensors, model.json, summary.json")


def _sample_options(p):
    p.add_argument("--model", required=True, help="model.safetensors of a text-to-image teacher (import-diffusers) "
                                                  "or of a student of one")
    p.add_argument("--prompts", required=True, help="prompt file, one per line (or a CSV with a 'text' column): "
                                                    "sample i takes prompt i mod P")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=None,
                   help="any registered sampler (default: the model's own, for a student that records one; a "
                        "teacher needs it)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="sampler steps (default: the student's own; a teacher needs it)")
    p.add_argument("--num-samples", type=positive_int, required=True, help="images, seeds F .. F+N-1")
    p.add_argument("--first-seed", type=non_negative_int, default=0,
                   help="F, the first seed (default 0): a point sampled in parts, each its own range of seeds")
    p.add_argument("--grid", default=None, choices=sorted(GRIDS),
                   help="grid of noise levels (default: the student's own, else edm; SFD samples SD 1.5 between "
                        "sigma 0.0292 and 14.6146); uniform without options spans the model's own levels, as PD's "
                        "and guided distillation's students of it were trained")
    p.add_argument("--grid-option", action="append", metavar="KEY=VALUE", help="an option of the grid; repeatable")
    p.add_argument("--sigmas", type=sigma_list, default=None, metavar="S0,S1,...",
                   help="the noise levels sigma_0 > ... > sigma_{n-1} > 0 the sampler steps through, replacing the "
                        "grid (a consistency model's time list, plugins/cd.py step_sigmas: k + 1 levels for k steps); "
                        "--steps, if given, must be n")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="an option of the sampler; repeatable")
    p.add_argument("--guidance", type=finite_float, default=None,
                   help="classifier-free guidance weight w >= 0 (diffusers' guidance_scale = 1 + w; two network "
                        "evaluations per step); a w-conditioned student (guided distillation) takes w as its "
                        "input instead, one evaluation per step")
    output(p, "--out", required=True, help="output .npz (decoded images, as `distill sample` writes)")


def sigma_list(text: str) -> list[float]:
    """A comma-separated list of noise levels (checked by the grid: decreasing, positive)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sigmas takes comma-separated numbers, got {text!r}") from None


def _samples_and_clip(p, what: str) -> None:
    """The samples of `distill sample-text`, the prompt file they were drawn from and the CLIP model."""
    p.add_argument("--samples", required=True, help=f"samples .npz of `distill sample-text` ({what})")
    p.add_argument("--prompts", required=True, help="the prompt file the samples were drawn from (checked by sha256)")
    input_folder(p, "--clip", required=True,
                 help="a CLIP model folder in transformers' layout (SFD's: laion/CLIP-ViT-g-14-laion2B-s34B-b88K)")


def _clip_options(p):
    _samples_and_clip(p, "its prompt indices")
    output(p, "--out", required=True, help="output JSON record (mean, std, N, provenance)")


def _features_options(p):
    _samples_and_clip(p, "one part of a point")
    p.add_argument("--extractor-weights", required=True,
                   help="torch-fidelity's Inception weights (weights-inception-2015-12-05-6726825d.pth)")
    output(p, "--out", required=True, help="output .npz (each image's Inception features and CLIP score)")


def _point_options(p):
    p.add_argument("--parts", nargs="+", required=True,
                   help="the `text-features` files of one point, together covering seeds 0 .. N-1 once")
    p.add_argument("--statistics", required=True,
                   help="FID statistics .npz of the prompt set's real images (keys mu, sigma; MS-COCO FID-30k: "
                        "`distill fetch coco_fid_stats`)")
    output(p, "--out", required=True, help="output JSON record (FID, CLIP score, N, the sampling, provenance)")


def _encode_options(p):
    p.add_argument("--teacher", required=True, help="model.safetensors of the text-to-image teacher "
                                                    "(import-diffusers): its VAE encodes, at its resolution")
    input_folder(p, "--images", required=True, help="the folder of the images (MS-COCO: train2014/)")
    p.add_argument("--annotations", required=True,
                   help="an MS-COCO captions file naming the images and their captions (captions_train2014.json)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="images per VAE call (the latents do not "
                                                                        "depend on it; default 16)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="S: image i's posterior draw comes from seed S + i (default 0)")
    output(p, "--out", folder=True, required=True,
           help="output folder: latents.npy, captions.json, manifest.json (written whole at the end; a killed run "
                "resumes from its hidden work folder)")


def features_work(cfg, args, producers) -> list[tuple[work.Unit, int]]:
    """`distill text-features` of part k (samples-<k>.npz): the part's images through the Inception."""
    t, stem = cfg.get("text_to_image") or {}, Path(args.samples).stem
    if not t or not stem.startswith("samples-") or not stem.split("-")[-1].isdigit():
        raise work.UnknownWork(f"text-features {args.samples}: not a part of the text_to_image plan (samples-<k>.npz),"
                               " so its images are counted when it exists")
    k = int(stem.split("-")[-1])
    return [(work.Unit("features"), min(t["part_size"], t["num_samples"] - k * t["part_size"]))]


def _report_options(p):
    p.add_argument("--results", required=True, help="results/<profile> folder")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV (one row per point)")
    output(p, "--json", required=True, help="output JSON summary")


COMMANDS = (
    Command("import-diffusers", "distill.handlers.latent:import_diffusers_command",
            "a diffusers text-to-image pipeline folder (SD 1.x/2.x, SDXL) as a teacher of the suite",
            "Read a diffusers pipeline folder (UNet, scheduler, text encoders, autoencoder) and write a model folder "
            "every command loads like a teacher; the folder's files are recorded in artifacts.lock.json at its first "
            "import and verified at every later one.", _import_options),
    Command("sample-text", "distill.handlers.latent:sample_text",
            "evaluation images of a text-to-image model from a prompt file",
            "Draw --num-samples latents (seed i, prompt i mod P) with any registered sampler on any grid, decode "
            "them with the pipeline's autoencoder and write an .npz of images.", _sample_options, job="sample",
            cost=work.sample_work),
    Command("clip-score", "distill.handlers.latent:clip_score",
            "CLIP score of text-to-image samples against their prompts",
            "The mean over images of 100 cos(CLIP image embedding, CLIP embedding of the image's own prompt), as "
            "SFD's clip_score.py computes it; the prompt file is checked against the one the samples record.",
            _clip_options, job="evaluate", cost=work.evaluate_work),
    Command("text-features", "distill.handlers.latent:text_features",
            "each image's Inception features and CLIP score, for a text-to-image point sampled in parts",
            "Centre-crop and resize each image to 299 x 299 (PIL bicubic, as text2image-benchmark made the MS-COCO "
            "statistics) and embed it with the 2015-12-05 Inception; score it against its own prompt with CLIP. "
            "`distill text-point` joins the parts of a point.", _features_options, job="evaluate",
            cost=features_work),
    Command("text-point", "distill.handlers.latent:text_point",
            "FID and CLIP score of a text-to-image point from its parts' features",
            "Join the parts (they must cover seeds 0 .. N-1 once, from one model, sampler and guidance), then the "
            "FID against the statistics' mean and covariance and the mean CLIP score.", _point_options),
    Command("encode-captions", "distill.handlers.latent:encode_captions",
            "a text-to-image teacher's training data: an image-caption set encoded by its VAE",
            "Read every captioned image of an MS-COCO captions file, resize its shorter side and centre-crop it to "
            "the teacher's resolution (as diffusers' text-to-image training script), encode it with the teacher's "
            "VAE (one posterior draw, seeded per image) and write the latents (float16) beside the captions: the "
            "data that PD and guided distillation draw on a text-to-image teacher (--captions). Resumes.",
            _encode_options, job="sample", cost=work.encode_work),
    Command("text-report", "distill.reports.text_to_image:command",
            "the text-to-image report: every experiment's points with FID, CLIP score and training cost",
            "Read the scores of every point of params.yaml's text_to_image experiments (the teacher's solvers, the SFD "
            "students, the DisBack generators) and their training summaries; write reports/text_to_image.pdf, a CSV "
            "of the rows and a JSON summary.", _report_options),
)
