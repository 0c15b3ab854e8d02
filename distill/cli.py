"""The `distill` command line: one sub-command per step of the pipeline; Snakemake rules call them.

The commands are declared as data in distill/commands (the core groups) and in each method's plug-in
(distill/plugins, Method.commands); this module builds the parser from them and runs one. Every sub-command reads its
hyperparameters from params.yaml (validated against workflows/schema/) and the profile named by --profile (default:
the file's `profile`).

Every module of the package imports at its top, but for these few places, which import by name when needed, so that
the command line starts fast (it imports the declarations alone) and no folder imports a folder above it
(tests/test_seams.py checks both lists):
  - a command's handler (distill/handlers, a report or a step module), on running it: commands/spec.py Command.resolve;
  - a method's card, its registrations and a function a card names: registry.py methods, load_registrations, named;
    the claims module a card names (claims/registry.py) and a plug-in's spread points (reports/spread.py);
  - an imported network's loader (EDM's unpickler, diffusers), when such a network is built: nets/__init__.py;
  - the Hugging Face hub's client, when a hub model is fetched: data/fetching.py (data/hub_client.py);
  - this module itself, by the `distill` command when no warm server runs it: warm.py;
  - torchvision, its stand-in, then torch-fidelity, in that order: metrics/torchvision_fallback.py (every other module
    takes the metric libraries from distill/metrics/fidelity.py).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from distill.commands import output_lock, paths
from distill.commands.index import every
from distill.config import ConfigError, load_profile
from distill.experiment_views import experiment_profile
from distill.core import distributed, gpu_slots, run_folder
from distill.registry import load_registrations


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="distill: reproduce diffusion-distillation papers on one shared PyTorch core. The usual entry "
                    "point is Snakemake (`snakemake --cores all -- reports/table1.pdf`), which calls these steps.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in every().values():
        command.add_to(sub)
    return parser


def torchrun_command(command: str, cfg: dict, argv: list[str], visible_gpus: int) -> list[str] | None:
    """The torchrun command line that runs this data-parallel command on its kind's GPUs (params.yaml
    cluster.<kind>.gpus > 1), one process per GPU; None to run it in this process (one GPU, or already a worker)."""
    spec = every().get(command)
    if spec is None or not spec.data_parallel or spec.job is None or distributed.launched():
        return None
    gpus = cfg["cluster"][spec.job].get("gpus", 0)
    if gpus <= 1 or cfg["device"] == "cpu" or (cfg["device"] == "auto" and visible_gpus == 0):
        return None  # one process (device auto without a GPU: on the CPU)
    if visible_gpus < gpus:
        raise ConfigError(f"cluster.{spec.job}.gpus asks for {gpus} GPUs, but this machine shows {visible_gpus}: run "
                          f"it where {gpus} are free, or lower cluster.{spec.job}.gpus in params.yaml")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "distill", *argv]


def _exec_torchrun(launch: list[str], gpus: int) -> None:
    """This process becomes torchrun (each worker runs the same command); on a multi-GPU machine without a scheduler,
    on GPUs no other job holds (distill/core/gpu_slots.py: the locks pass to torchrun)."""
    env = dict(os.environ)
    if not gpu_slots.chosen_elsewhere():
        chosen = gpu_slots.acquire(gpus, torch.cuda.device_count(), inheritable=True)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, chosen))
    sys.stdout.flush()
    os.execve(launch[0], launch, env)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        paths.check(args)  # no output replaces an input, every output can be written: before any work
        cfg = experiment_profile(load_profile(args.params, args.profile), args.method, args.experiment)
        if args.spec.data_parallel and cfg["device"] != "cpu":
            launch = torchrun_command(args.command, cfg, argv, torch.cuda.device_count())
            if launch is not None:
                _exec_torchrun(launch, cfg["cluster"][args.spec.job]["gpus"])
        locks = output_lock.acquire(args, argv)  # one writer per output (held until this process ends)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    run_folder.OVERWRITE.set(bool(getattr(args, "overwrite", False)))
    try:
        if args.spec.job is not None:  # a computing command: every method's samplers and grids are known to it
            load_registrations()
        return args.spec.resolve()(args, cfg, not args.no_progress) or 0
    except (ConfigError, ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a disk that filled up, a folder made read-only while the command ran
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot read or write{where}: {exc.strerror or exc}; free the space or fix the permissions, "
              "then run the command again (what was finished is kept)", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; lower the batch size or the number of samples in params.yaml (or on the "
              "command line)", file=sys.stderr)
        return 1
    finally:
        for lock in locks:
            lock.close()
