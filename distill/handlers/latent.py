"""Handlers of the text-to-image teachers' commands (distill/commands/latent.py declares them)."""

from __future__ import annotations

from distill.commands.options import parse_grid_options, parse_sampler_options
from distill.pipeline import import_diffusers, sample_text as text_sampling


def import_diffusers_command(args, cfg, progress):
    summary = import_diffusers.run(args.name, args.folder, args.out, args.resolution)
    print(f"imported {summary['imported']}: {summary['parameters']:,} parameters; {summary['checked']}")


def sample_text(args, cfg, progress):
    print(text_sampling.run(cfg, args.model, args.prompts, args.sampler, args.out, args.steps, args.num_samples,
                            args.guidance, args.grid, parse_grid_options(args.grid_option),
                            parse_sampler_options(args.sampler, args.option), args.threads, progress))
