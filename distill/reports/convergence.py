"""A figure of convergence curves over training seeds: one panel per metric, each method's mean against iteration
with a min-max band over seeds, on a log axis (a method's zero or missing points left out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from distill.reports.pdf import figure_caption, pyplot
from distill.results.convergence import curve_stats

COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange")


def figure(curves: pd.DataFrame, panels: Sequence[tuple[str, str]], labels: Mapping[str, str], caption: str,
           xlabel: str = "generator iteration"):
    """`panels`: (metric column, title) pairs; `labels`: method -> legend label, in drawing order."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(11.0, 3.6))
    for ax, (metric, title) in zip(axes, panels):
        stats = curve_stats(curves[curves[metric].notna()], metric) if metric in curves else None
        for (method, label), color in zip(labels.items(), COLORS):
            if stats is None:
                break
            s = stats[(stats["method"] == method) & (stats["mean"] > 0)].sort_values("iteration")
            if s.empty:
                continue
            ax.plot(s["iteration"], s["mean"], color=color, marker="o", markersize=3, label=label)
            ax.fill_between(s["iteration"], s["min"], s["max"], color=color, alpha=0.2, linewidth=0)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure_caption(fig, caption)
    return fig
