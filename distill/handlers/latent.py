"""Handlers of the text-to-image teachers' commands (distill/commands/latent.py declares them)."""

from __future__ import annotations

from distill.commands.options import parse_grid_options, parse_sampler_options
from distill.pipeline import encode_captions as caption_encoding, import_diffusers, text_scores
from distill.pipeline import sample_text as text_sampling
from distill.pipeline.sample import own_sampler


def import_diffusers_command(args, cfg, progress):
    summary = import_diffusers.run(args.name, args.folder, args.out, args.resolution)
    print(f"imported {summary['imported']}: {summary['parameters']:,} parameters; {summary['checked']}")


def sample_text(args, cfg, progress):
    sampler = args.sampler or own_sampler(args.model)  # a distilled model's own (an SFD student's, a generator's)
    print(text_sampling.run(cfg, args.model, args.prompts, sampler, args.out, args.steps, args.num_samples,
                            args.guidance, args.grid, parse_grid_options(args.grid_option),
                            parse_sampler_options(sampler, args.option), args.threads, progress, args.first_seed,
                            args.sigmas))


def clip_score(args, cfg, progress):
    r = text_scores.run(cfg, args.samples, args.prompts, args.clip, args.out, args.threads, progress)
    print(f"CLIP score {r['clip_score']:.3f} over {r['num_samples']} images ({args.clip})")


def text_features(args, cfg, progress):
    r = text_scores.features_run(cfg, args.samples, args.prompts, args.clip, args.extractor_weights, args.out,
                                 args.threads, progress)
    print(f"features and CLIP scores of seeds {r['first_seed']} .. {r['first_seed'] + r['num_samples'] - 1}")


def text_point(args, cfg, progress):
    r = text_scores.point_run(args.parts, args.statistics, args.out)
    print(f"FID {r['fid']:.3f}, CLIP score {r['clip_score']:.3f} over {r['num_samples']} images")


def encode_captions(args, cfg, progress):
    r = caption_encoding.run(args.teacher, args.images, args.annotations, args.out, args.batch_size, args.seed,
                             args.threads, cfg["device"], progress)
    print(f"encoded {r['images']} images ({r['captions']} captions) into latents of shape {tuple(r['shape'])}")
