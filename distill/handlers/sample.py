"""The handler of `distill sample` (declared in distill/commands/core.py)."""

from __future__ import annotations

from distill.commands.options import parse_cond, parse_grid_options, parse_sampler_options
from distill.errors import ConfigError
from distill.pipeline import sample as sampling


def sample(args, cfg, progress):
    sampler = args.sampler or sampling.own_sampler(args.model)  # a distilled model's own (an SFD student's)
    options = parse_sampler_options(sampler, args.option)
    if args.gamma is not None:
        if "gamma" in options:
            raise ConfigError("--gamma and --option gamma=... both given; give one")
        options["gamma"] = args.gamma
    print(sampling.run(cfg, args.model, sampler, args.out, args.threads, progress, args.num_samples, args.steps,
                       options=options, grid=args.grid, cond=parse_cond(args.cond),
                       grid_options=parse_grid_options(args.grid_option), guidance=args.guidance))
