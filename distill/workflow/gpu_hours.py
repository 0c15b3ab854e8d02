"""Estimated GPU hours of workflow targets: the jobs a Snakemake dry run lists, each job's work counted from its
`distill` command (distill.bench.work) and the seconds of each unit of work measured on a GPU.

    distill gpu-hours --profile paper -- reports/table1.pdf             # from the unit times stored for a GPU
    distill gpu-hours --profile paper --measure -- reports/table1.pdf   # on a GPU node: measure them, then estimate

Unit times are kept per machine fingerprint (with the profile) in results/benchmarks/<slug>/units.json; commit them
and a login node without a GPU estimates from them. The estimate assumes ideal data-parallel scaling (a job on k GPUs
costs the GPU hours of one) and leaves out start-up, checkpoint writes and queueing. A dry run lists only the jobs
still to run: `--forceall` estimates every job of the targets from scratch.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from distill.bench.fingerprint import machine, slug
from distill.bench.work import IMPORTED, Source, Unit, UnknownWork
from distill.commands.index import get
from distill.commands.spec import GPU_JOBS
from distill.core.checkpoint import atomic_write
from distill.experiment_views import method_sections
from distill.pipeline.text_to_image import METHOD as T2I_METHOD
from distill.core.provenance import code_version
from distill.pipeline.common import setup_torch
from distill.workflow.unit_times import measure

UNITS_FILE = "units.json"
PROFILE_STAMP = "results/active_profile.txt"  # the Snakefile's record of the active profile
COMMAND = re.compile(r"-m distill\s+(.*)$")


class EstimateError(RuntimeError):
    pass


@dataclass
class Job:
    command: str  # the distill sub-command
    argv: list[str]
    work: list[tuple[Unit, int]] = field(default_factory=list)
    problem: str | None = None  # why its work cannot be counted


def dry_run_commands(profile: str, targets: list[str], forceall: bool = False) -> list[list[str]]:
    """The `distill` arguments of every job a dry run of `targets` lists (in the working directory's project). The
    dry run plans as the profile's real run would (the workflow's profile stamp switched to it, so reports built for
    another profile count as outdated); the stamp is then put back as it was, modification time included, so the
    active profile's reports stay up to date."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--config", f"profile={profile}",
           *(["--forceall"] if forceall else []), "--", *targets]
    stamp = Path(PROFILE_STAMP)
    before = (stamp.read_bytes(), stamp.stat().st_mtime_ns) if stamp.is_file() else None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        if before is not None:
            stamp.write_bytes(before[0])
            os.utime(stamp, ns=(before[1], before[1]))
    if proc.returncode != 0:
        raise EstimateError(f"the dry run failed ({shlex.join(cmd[1:])}):\n{(proc.stderr or proc.stdout)[-3000:]}")
    commands = []
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        found = COMMAND.search(line)
        if found:
            argv = shlex.split(found.group(1))
            commands.append(argv[:argv.index(">")] if ">" in argv else argv)
    return commands


IMPORT_COMMANDS = ("import-edm", "import-diffusers")  # they write a teacher's folder from fetched files


def count_work(cfg: Mapping[str, Any], commands: list[list[str]]) -> list[Job]:
    """Each GPU job with its work; CPU jobs (the domain classifier) and light commands (reports, tables, fetch)
    are left out."""
    specs = [get(argv[0]) for argv in commands]
    # only the computing commands' arguments are parsed, each by its own command's parser
    parsed = [spec.parse(argv[1:]) if spec.job is not None else None for spec, argv in zip(specs, commands)]
    # the folder a training job writes -> the experiment whose network it trains (what later jobs sample)
    producers: dict[str, Source] = {
        str(Path(a.out)): (getattr(a, "method", None), getattr(a, "experiment", None))
        for spec, a in zip(specs, parsed) if spec.job in ("teacher", "distill") and getattr(a, "out", None)}
    for spec, argv in zip(specs, commands):  # an imported network: priced from its file once it is imported
        if spec.name in IMPORT_COMMANDS:
            producers[str(Path(spec.parse(argv[1:]).out))] = IMPORTED
    jobs = []
    for argv, spec, args in zip(commands, specs, parsed):
        if spec.job not in GPU_JOBS:
            continue
        job = Job(spec.name, argv)
        cost = spec.cost
        if cost is None:
            job.problem = f"`distill {spec.name}` declares no work (its Command's cost, distill/commands)"
        else:
            try:
                sections = method_sections(cfg, getattr(args, "method", None), getattr(args, "experiment", None))
                job.work = cost({**cfg, **sections}, args, producers)
                if getattr(args, "method", None) == T2I_METHOD:  # timed on the profile as the experiment sees it
                    job.work = [(Unit(u.kind, (T2I_METHOD, args.experiment), u.step) if u.kind == "train" else u, n)
                                for u, n in job.work]
            except UnknownWork as exc:
                job.problem = str(exc)
        jobs.append(job)
    return jobs


# ---- measuring one unit of work on this machine ----


# ---- unit times kept per machine ----

def read_units(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EstimateError(f"{path} is not valid JSON ({exc}); delete it and measure again (--measure)") from None
    if not isinstance(record.get("units"), dict) or not isinstance(record.get("fingerprint"), dict):
        raise EstimateError(f"{path} lacks 'fingerprint' or 'units'; delete it and measure again (--measure)")
    return record


def store_units(store: Path, fp: dict[str, Any], times: dict[str, float]) -> Path:
    path = store / slug(fp) / UNITS_FILE
    record = read_units(path) if path.is_file() else {"fingerprint": fp, "units": {}}
    stamp = {"commit": code_version(), "date": time.strftime("%Y-%m-%d")}
    record["units"].update({k: {"seconds": v, **stamp} for k, v in times.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n"))
    return path


def gpu_unit_files(store: Path, profile: str) -> list[Path]:
    """The stored unit times of GPU machines for `profile`."""
    out = []
    for path in sorted(store.glob(f"*/{UNITS_FILE}")):
        fp = read_units(path)["fingerprint"]
        if fp.get("device", "cpu") != "cpu" and fp.get("profile") == profile:
            out.append(path)
    return out


# ---- the estimate ----

def estimate(jobs: list[Job], times: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per kind of job: jobs, work per unit, hours (None where a unit time or a count is missing)."""
    rows: dict[str, dict[str, Any]] = {}
    for job in jobs:
        row = rows.setdefault(job.command, {"command": job.command, "jobs": 0, "work": defaultdict(int),
                                            "seconds": 0.0, "missing": set()})
        row["jobs"] += 1
        if job.problem:
            row["missing"].add(job.problem)
        for unit, count in job.work:
            row["work"][unit.key] += count
            if unit.key in times:
                row["seconds"] += count * times[unit.key]["seconds"]
            else:
                row["missing"].add(f"no measured time for '{unit.key}'")
    out = []
    for row in rows.values():
        hours = None if row["missing"] else row["seconds"] / 3600
        out.append({**row, "work": dict(row["work"]), "missing": sorted(row["missing"]), "hours": hours})
    return out


def _hours(h: float | None) -> str:
    return "n/a" if h is None else f"{h:,.1f}" if h >= 10 else f"{h:.3g}"


def report(target: str, rows: list[dict[str, Any]], device: str | None) -> str:
    where = "GPU hours (no unit times)" if device is None else \
        "CPU hours (measured on the CPU, not a GPU)" if device == "cpu" else f"GPU hours on {device}"
    lines = [f"{target}: estimated {where}"]
    for r in rows:
        work = "; ".join(f"{n:,} x {k}" for k, n in sorted(r["work"].items()))
        lines.append(f"  {r['command']:16s} {r['jobs']:5d} jobs  {_hours(r['hours']):>10s} h   {work}")
        lines += [f"{'':24s}n/a: {m}" for m in r["missing"]
                  if device is not None or not m.startswith("no measured time")]  # (no times at all: said once)
    known = [r["hours"] for r in rows]
    total = None if any(h is None for h in known) else sum(known)
    lines.append(f"  {'total':16s} {sum(r['jobs'] for r in rows):5d} jobs  {_hours(total):>10s} h")
    return "\n".join(lines)


def run(cfg: Mapping[str, Any], targets: list[str], store: Path, do_measure: bool, forceall: bool,
        units_file: str | None = None) -> int:
    """Print each target's estimate (n/a, with the reason, where a job lacks a measured time or a count)."""
    if not targets:
        raise EstimateError("name at least one target (e.g. reports/table1.pdf)")
    per_target = {t: count_work(cfg, dry_run_commands(cfg["profile"], [t], forceall)) for t in targets}
    if do_measure:
        device = setup_torch(cfg["threads"]["sample"], cfg["device"])
        units = {u.key: u for jobs in per_target.values() for j in jobs for u, _ in j.work}
        fp = machine(torch.get_num_threads(), device.type, cfg["profile"])
        path = store_units(store, fp, measure(cfg, list(units.values()), device))
        print(f"unit times of this machine: {path}")
    elif units_file is None:
        found = gpu_unit_files(store, cfg["profile"])
        if len(found) > 1:
            raise EstimateError(f"unit times of several GPUs for profile {cfg['profile']!r}: choose one with --units "
                                f"({', '.join(map(str, found))})")
        path = found[0] if found else None
    else:
        path = Path(units_file)
    record = read_units(path) if path is not None else {"fingerprint": {}, "units": {}}
    device = record["fingerprint"].get("device")
    if path is None:
        print(f"no unit times of a GPU for profile {cfg['profile']!r} under {store}: the work is counted, not timed. "
              f"On a GPU node run `distill gpu-hours --profile {cfg['profile']} --measure -- TARGET` and commit "
              f"{store}/<machine>/{UNITS_FILE}.")
    else:
        print(f"unit times: {path}")
    for target, jobs in per_target.items():
        print(report(target, estimate(jobs, record["units"]), device))
    print("(ideal data-parallel scaling; start-up, checkpoint writes and queueing left out; "
          f"{'every job from scratch' if forceall else 'only the jobs still to run: --forceall for all'})")
    return 0


def command(args, cfg, progress) -> int:
    """`distill gpu-hours`."""
    return run(cfg, args.targets, Path(args.store), args.measure, args.forceall, args.units)
