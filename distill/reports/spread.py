"""Table 1's training-seed spread: every cell trained with its seeds and the spread seeds, the reported FID of each,
mean ± standard deviation, and the tolerance a re-run is judged by (distill.results.spread)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.reports.pdf import save_pdf, table_page
from distill.results import spread as seed_spread


def build(cfg: dict[str, Any], results: Path, pdf: Path, csv: Path) -> pd.DataFrame:
    from distill.reports.table1 import rows, spread_seeds

    t = cfg["table1"]
    seeds = spread_seeds(t)
    table = pd.DataFrame(rows({**cfg, "table1": {**t, "seeds": seeds}}, results))
    df = seed_spread.spread(table)
    seed_spread.write(csv, df)
    body = [[r.cell, r.sampler, r.seeds, r.values,
             "—" if math.isnan(r.mean) else f"{r.mean:.2f} ± {r.std:.2f}",
             "—" if math.isnan(r.tolerance) else f"{r.tolerance:.2f}", r.status] for r in df.itertuples()]
    caption = (f"Profile '{cfg['profile']}': each Table 1 cell trained with {len(seeds)} training seeds ({seeds}); "
               "FID is the minimum over the protocol's seed ranges. A re-run of a cell (`distill verify`) is within "
               f"tolerance when it lies within {seed_spread.TOLERANCE_SIGMAS:g} seed-to-seed standard deviations "
               "of the committed number.")
    page = table_page("Table 1 — training-seed spread (FID)",
                      ["parameterization-weighting", "sampler", "seeds", "FID per seed", "mean ± std", "tolerance",
                       "status"], body, caption)
    atomic_write(pdf, lambda p: save_pdf(p, [page]))
    return df
