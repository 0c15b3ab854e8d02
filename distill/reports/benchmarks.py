"""reports/benchmarks.pdf: the throughput history of every machine fingerprint (results/benchmarks/<fingerprint>/),
one page each: images per second, overhead ratios with their aims and normalised times of every filed run, in filing
order, labelled by commit; so a slow drift shows, not only a step past the limit. The same as one CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from distill.bench import store as st
from distill.bench.judge import normalised, overhead_ratios
from distill.bench.limits import OVERHEAD_AIMS
from distill.core.checkpoint import atomic_write
from distill.reports.pdf import FOOTER_H, pyplot, save_pdf


def frame(store: Path) -> pd.DataFrame:
    """One row per filed run and benchmark."""
    rows, baselines = [], st.baselines(store)
    for machine, runs in st.history(store).items():
        base = baselines.get(machine, {}).get("datetime")
        for order, (name, run) in enumerate(runs):
            ratios, norm = overhead_ratios(run["benchmarks"]), normalised(run["benchmarks"])
            commit = run.get("commit_info", {})
            for b in run["benchmarks"]:
                info, r, n = b.get("extra_info", {}), ratios.get(b["name"], {}), norm.get(b["name"], {})
                rows.append({"machine": machine, "order": order, "run": name, "commit": (commit.get("id") or "")[:8],
                             "dirty": bool(commit.get("dirty")), "datetime": run.get("datetime", ""),
                             "baseline": run.get("datetime") == base, "benchmark": b["name"],
                             "median_s": b["stats"]["median"], "images_per_second": info.get("images_per_second"),
                             "overhead": r.get("kind"), "overhead_ratio": r.get("ratio"), "overhead_aim": r.get("aim"),
                             "normalised": n.get("normalised"), "reference_kernel": n.get("reference_kernel")})
    if not rows:
        raise FileNotFoundError(f"no benchmark run is filed under {store}/<fingerprint>/: run `bash tools/bench.sh`")
    return pd.DataFrame(rows)


def _panel(ax, df: pd.DataFrame, column: str, ylabel: str, log: bool) -> None:
    for name, g in df.dropna(subset=[column]).groupby("benchmark", sort=True):
        ax.plot(g["order"], g[column], marker="o", ms=3, lw=1, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def machine_page(machine: str, df: pd.DataFrame):
    plt = pyplot()
    runs = df.drop_duplicates("order").sort_values("order")
    fig, axes = plt.subplots(3, 1, figsize=(12, 12), sharex=True)
    _panel(axes[0], df, "images_per_second", "images / s", log=True)
    _panel(axes[1], df, "overhead_ratio", "overhead ratio", log=False)
    kinds = set(df["overhead"].dropna())
    for aim in sorted({OVERHEAD_AIMS[k] for k in kinds if k in OVERHEAD_AIMS}):  # today's aims, one line per value
        names = ", ".join(sorted(k for k in kinds if OVERHEAD_AIMS.get(k) == aim))
        axes[1].axhline(aim, ls="--", lw=0.8, color="0.3")
        axes[1].annotate(f"aim {aim}: {names}", (runs["order"].min(), aim), fontsize=7, va="bottom")
    _panel(axes[2], df, "normalised", "fastest round / reference kernel's", log=True)
    for ax in axes:
        for order in runs.loc[runs["baseline"], "order"]:
            ax.axvline(order, color="tab:green", lw=0.8, alpha=0.6)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            ax.text(0.5, 0.5, "not measured by these runs", transform=ax.transAxes, ha="center", color="0.5")
    labels = [f"{r.run[:4]} {r.commit}{'*' if r.dirty else ''}" for r in runs.itertuples()]
    axes[2].set_xticks(list(runs["order"]), labels, rotation=60, ha="right", fontsize=7)
    axes[2].set_xlabel("filed run (number, commit; * = uncommitted changes; green line = the baseline)")
    fig.suptitle(f"Benchmark history of {machine}", fontsize=11, weight="bold")
    fig.tight_layout(rect=(0, FOOTER_H / fig.get_size_inches()[1], 1, 1))  # the footer's band kept free
    return fig


def build(store: Path, pdf: Path, csv: Path) -> int:
    """Write the history CSV and one PDF page per machine; returns the number of runs."""
    df = frame(store)
    atomic_write(csv, lambda p: df.to_csv(p, index=False, float_format="%.6g"))
    pages = [machine_page(m, g) for m, g in df.groupby("machine", sort=True)]
    atomic_write(pdf, lambda p: save_pdf(p, pages))
    return int(df.groupby("machine")["order"].nunique().sum())
