"""Training-seed spreads: every Table 1 cell, every PD student, and the headline numbers of KD, SFD and guided
distillation, each trained with its own seed and the spread seeds; the reported FID of each, mean ± standard
deviation, and the tolerance a re-run is judged by (distill.results.spread)."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.experiment_views import method_experiments, spread_experiment
from distill.core.checkpoint import atomic_write
from distill.pipeline import floor
from distill.plugins import pd_layout as L
from distill.plugins.table1 import spread_seeds
from distill.reports.pdf import save_pdf, table_page
from distill.reports.table1 import rows
from distill.results import spread as seed_spread
from distill.results.table import record_rows

HEADER = ["cell", "sampler", "seeds", "FID per seed", "mean ± std", "tolerance", "status"]
JUDGED = (f"A re-run (`distill verify`) is within tolerance when it lies within {seed_spread.TOLERANCE_SIGMAS:g} "
          "seed-to-seed standard deviations of the committed number.")


def _write(df: pd.DataFrame, title: str, caption: str, pdf: Path, csv: Path) -> pd.DataFrame:
    seed_spread.write(csv, df)
    body = [[r.cell, r.sampler, r.seeds, r.values,
             "—" if math.isnan(r.mean) else f"{r.mean:.2f} ± {r.std:.2f}",
             "—" if math.isnan(r.tolerance) else f"{r.tolerance:.2f}", r.status] for r in df.itertuples()]
    atomic_write(pdf, lambda p: save_pdf(p, [table_page(title, HEADER, body, caption)]))
    return df


def _floor(cfg: dict[str, Any], results: Path, rows: pd.DataFrame | None = None) -> str:
    """The profile's real-data FID floor, as a sentence of the caption (where it was computed; where `rows` are
    given, only if it was measured in their evaluation context)."""
    path = floor.profile_path(cfg, results)
    if not path.is_file():
        return ""
    record = floor.matching(floor.read(path), rows) if rows is not None else floor.read(path)
    return f" {floor.describe_floor(record)}"


def build(cfg: dict[str, Any], results: Path, pdf: Path, csv: Path) -> pd.DataFrame:
    """Table 1: every cell over table1.seeds + table1.spread_seeds."""
    t = cfg["table1"]
    seeds = spread_seeds(t)
    found = pd.DataFrame(rows({**cfg, "table1": {**t, "seeds": seeds}}, results))
    caption = (f"Profile '{cfg['profile']}': each Table 1 cell trained with {len(seeds)} training seeds ({seeds}); "
               "FID is the minimum over the protocol's seed ranges. " + JUDGED)
    return _write(seed_spread.spread(found), "Table 1 — training-seed spread (FID)",
                  caption + _floor(cfg, results, found), pdf, csv)


def build_pd(cfg: dict[str, Any], results: Path, pdf: Path, csv: Path) -> pd.DataFrame:
    """PD: every student of every experiment (DDIM at its own steps), distilled from each seed's teacher."""
    exps, spread_seeds = method_experiments(cfg, "pd"), cfg["pd"].get("spread_seeds") or []
    rows = []
    for name, exp in cfg["pd"]["experiments"].items():
        for seed, run in [(exp["seed"], name)] + [(s, spread_experiment(name, s)) for s in spread_seeds]:
            for e in L.spread_evaluations(exps[run]):
                record = json.loads(Path(L.metrics_path(str(results), run, e)).read_text())
                rows += record_rows(record, method="pd", experiment=name, model=f"{name}-{e.model}-s{seed}",
                                    sampler="ddim", steps=e.steps)
    found = pd.DataFrame(rows)
    own_seeds = [e["seed"] for e in cfg["pd"]["experiments"].values()]
    caption = (f"Profile '{cfg['profile']}': each experiment's students (cell <experiment>-n<steps>, DDIM at their "
               f"own steps) distilled from the teachers of training seeds {own_seeds} and {spread_seeds} "
               "(pd.spread_seeds; each seed's rounds seeded alike); FID is the minimum over the "
               "protocol's seed ranges. " + JUDGED)
    return _write(seed_spread.spread(found), "Progressive Distillation — training-seed spread of the students (FID)",
                  caption + _floor(cfg, results, found), pdf, csv)


def table1_command(args, cfg, progress):
    """`distill table1-spread`."""
    df = build(cfg, Path(args.results), Path(args.pdf), Path(args.csv))
    print(df[["cell", "sampler", "seeds", "mean", "std", "tolerance", "status"]].to_string(index=False))


def pd_command(args, cfg, progress):
    """`distill pd-spread`."""
    df = build_pd(cfg, Path(args.results), Path(args.pdf), Path(args.csv))
    print(df[["cell", "sampler", "seeds", "mean", "std", "tolerance", "status"]].to_string(index=False))


def point_rows(method: str, points: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    """The results-table rows of one method's headline numbers: `points` lists (cell, sampler, training seed, metrics
    record) for every seed of every cell (each method's `spread_points`)."""
    rows = []
    for cell, sampler, seed, path in points:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} (cell {cell}, training seed {seed}) is missing: build the method's spread "
                                    f"target (snakemake --cores all -- reports/{method}_spread.pdf)")
        rows += record_rows(json.loads(Path(path).read_text()), method=method, model=f"{cell}-s{seed}",
                            sampler=sampler)
    return pd.DataFrame(rows)


def method_command(method: str):
    """`distill <method>-spread` for a method whose plugin module has spread_points(cfg, results) -> (points, title,
    caption)."""
    def command(args, cfg, progress):
        plugin = importlib.import_module(f"distill.plugins.{method}")
        points, title, caption = plugin.spread_points(cfg, str(args.results))
        rows = point_rows(method, points)
        df = _write(seed_spread.spread(rows), title, f"{caption} {JUDGED}{_floor(cfg, Path(args.results), rows)}",
                    Path(args.pdf), Path(args.csv))
        print(df[["cell", "sampler", "seeds", "mean", "std", "tolerance", "status"]].to_string(index=False))
    return command


kd_command, sfd_command, guided_command = (method_command(m) for m in ("kd", "sfd", "guided"))
