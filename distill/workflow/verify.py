"""`distill verify`: re-run chosen Table 1 runs from scratch and judge each re-made number against the committed one.

The re-run happens in a fresh copy of the project's tracked files without its results (so nothing committed is
reused: classifier, reference statistics, teacher, samples and metrics are all made again), by the same Snakemake
rules. A number is within tolerance when |re-run - committed| <= its tolerance, TOLERANCE_SIGMAS seed-to-seed standard
deviations from the spread target (results/<profile>/spread/table1.csv); without a measured spread it is reported
but not judged.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from distill.errors import ConfigError
from distill.core.provenance import PROJECT_ROOT
from distill.plugins.table1 import run_name, spread_seeds
from distill.results import spread as seed_spread
from distill.results import table as results_table

COLUMNS = ["run", "sampler", "committed", "rerun", "difference", "tolerance", "verdict"]


def committed_values(results: Path, runs: list[str], samplers: list[str]) -> dict[tuple[str, str], float]:
    """The committed reported FID of each (run, sampler) from results/<profile>/results.csv."""
    path = results / "results.csv"
    if not path.is_file():
        raise ConfigError(f"{path} not found: there are no committed results to verify (build them with Snakemake)")
    table = results_table.read(path)
    part = table[(table["method"] == "table1") & (table["metric"] == "fid") &
                 (table["seed_range"] == results_table.REPORTED)]
    out = {}
    for run in runs:
        for sampler in samplers:
            row = part[(part["model"] == run) & (part["sampler"] == sampler)]
            if row.empty:
                raise ConfigError(f"{path} has no Table 1 FID of {run} with {sampler}; choose among "
                                  f"{sorted(part['model'].unique())}")
            out[(run, sampler)] = float(row["value"].iloc[0])
    return out


def tolerances(results: Path) -> dict[tuple[str, str], float]:
    path = results / "spread" / "table1.csv"
    if not path.is_file():
        return {}
    df = seed_spread.read(path)
    return {(r.cell, r.sampler): float(r.tolerance) for r in df.itertuples() if not math.isnan(r.tolerance)}


def fresh_copy(dest: Path, root: Path = PROJECT_ROOT, results: bool = False) -> None:
    """The project's tracked files, as a new clone would have them; without the committed results (results/published
    kept) unless `results`, and then the results and reports as committed (git's HEAD): a run in this clone may
    have written over them, and a clone has the committed ones."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"{root} is not a git checkout; `distill verify` re-runs from the tracked files")
    for name in filter(None, proc.stdout.split("\0")):
        if not results and name.startswith("results/") and not name.startswith("results/published/"):
            continue
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    if results:
        archive = subprocess.run(["git", "archive", "HEAD", "--", "results", "reports"], cwd=root,
                                 capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-m", "-C", str(dest)], input=archive.stdout, check=True)


def judge(committed: float, rerun: float, tolerance: float | None) -> str:
    if math.isnan(rerun):
        return "re-run gave no number"
    if tolerance is None:
        return "spread not measured (not judged)"
    return "within tolerance" if abs(rerun - committed) <= tolerance else "OUTSIDE tolerance"


def run(cfg: dict[str, Any], runs: list[str], results: Path, keep: Path | None = None,
        progress: bool = True) -> pd.DataFrame:
    t = cfg["table1"]
    known = {run_name(p, w, s) for p in t["parameterizations"] for w in t["weightings"] for s in spread_seeds(t)}
    unknown = sorted(set(runs) - known)
    if unknown:
        raise ConfigError(f"unknown Table 1 run(s) {unknown} for profile {cfg['profile']!r}; choose among "
                          f"{sorted(known)}")
    samplers = list(t["samplers"])
    committed = committed_values(results, runs, samplers)
    tol = tolerances(results)
    work = Path(tempfile.mkdtemp(prefix="distill-verify-")) if keep is None else keep
    try:
        fresh_copy(work)
        profile = cfg["profile"]
        targets = [f"results/{profile}/metrics/{r}/{s}.json" for r in runs for s in samplers]
        print(f"re-running {len(targets)} evaluation(s) from scratch in {work} ...", file=sys.stderr)
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "--config", f"profile={profile}",
                               "--", *targets], cwd=work, capture_output=not progress, text=True)
        if proc.returncode != 0:
            tail = "" if progress else (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"the re-run failed (Snakemake exit status {proc.returncode}); its logs are in "
                               f"{work}/logs\n{tail}")
        rows = []
        for run_ in runs:
            cell = seed_spread.cell_of(run_)[0]
            for sampler in samplers:
                record = json.loads((work / "results" / profile / "metrics" / run_ / f"{sampler}.json").read_text())
                rerun = record["metrics"]["fid"]["min"] if record["metrics"] else math.nan
                before, tolerance = committed[(run_, sampler)], tol.get((cell, sampler))
                rows.append({"run": run_, "sampler": sampler, "committed": before, "rerun": rerun,
                             "difference": rerun - before, "tolerance": math.nan if tolerance is None else tolerance,
                             "verdict": judge(before, rerun, tolerance)})
        return pd.DataFrame(rows, columns=COLUMNS)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
