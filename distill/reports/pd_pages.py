"""Progressive Distillation's report pages (distill/reports/pd.py builds reports/pd_fig4_<experiment>.pdf): Fig. 4
(FID against steps, the published CIFAR-10 points as stars) and the details page (App. F, the cost, the claims)."""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd

from distill.pipeline import floor
from distill.pipeline.floor import describe_floor, fid as floor_fid, kid as floor_kid
from distill.reports.format import fmt
from distill.reports.pdf import claim_line, figure_caption, pyplot, table_page


CURVES = {  # curve id -> legend label
    "distilled_ddim": "distilled (DDIM)",
    "distilled_stochastic": "distilled (stochastic, best γ)",
    "teacher_ddim": "undistilled teacher (DDIM)",
    "teacher_stochastic": "undistilled teacher (stochastic, best γ)",
}


def figure(frame: pd.DataFrame, pub: pd.DataFrame, cfg: dict[str, Any], name: str, exp: dict[str, Any],
           floor_record: Optional[dict[str, Any]] = None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    styles = {"distilled_ddim": ("C0", "o", "-"), "distilled_stochastic": ("C0", "s", ":"),
              "teacher_ddim": ("C1", "o", "-"), "teacher_stochastic": ("C2", "^", "--")}
    for curve, label in CURVES.items():
        part = frame[(frame["curve"] == curve) & frame["fid"].notna()]
        if not part.empty:
            color, marker, line = styles[curve]
            ax.plot(part["steps"], part["fid"], marker=marker, linestyle=line, color=color, label=label)
    if not pub.empty:
        ax.plot(pub["steps"], pub["fid"], marker="*", markersize=11, linestyle="none", color="k",
                label=f"paper: {exp['reproduces']} distilled (EXACT)")
    if floor.fid(floor_record) is not None:  # what a perfect generator scores under the same protocol
        ax.axhline(floor.fid(floor_record), color="tab:green", ls="-.", lw=1.2,
                   label=f"real data: FID floor of the protocol ({floor.fid(floor_record):.2f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(f"FID (min over {cfg['evaluation']['seed_ranges']} seed ranges)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"PD Fig. 4 — {name}: reproduced, profile '{cfg['profile']}' "
                 f"({cfg['data']['name']}, {cfg['data'].get('resolution')}px)", fontsize=10)
    note = ("Reproduced curves: this suite's run on the data set named in the title. The black stars are the paper's "
            f"{exp['reproduces']} numbers; where the run stands in for that data set (reduced profiles: other data, "
            "scale and feature space), compare shapes, not values." if not pub.empty else "")
    if floor_record is not None:
        note = f"{note} {floor.describe_floor(floor_record)}".strip()
    figure_caption(fig, note)
    return fig


def details_page(frame: pd.DataFrame, cost: list[dict[str, Any]], claims: list[dict[str, Any]],
                 cfg: dict[str, Any], name: str, floor_record: Optional[dict[str, Any]] = None):
    """Students' DDIM vs stochastic FID (App. F), the cost of every stage, and the claims, as one table page."""
    dd = frame[frame["curve"] == "distilled_ddim"].set_index("steps")
    st = frame[frame["curve"] == "distilled_stochastic"].set_index("steps")
    cost_by = {c["student_steps"]: c for c in cost}
    rows = [["teacher training", "—", "—", "—", str(cost[0]["updates"]), str(cost[0]["images"]),
             fmt(cost[0]["wall_seconds"], 1), "1.00"]]
    for n in sorted(dd.index, reverse=True):
        c = cost_by.get(n, {})
        ddim_cell = (f"{fmt(dd.loc[n, 'fid'])} / {fmt(dd.loc[n, 'kid'], 0)}" if dd.loc[n, "status"] == "ok"
                     else str(dd.loc[n, "status"]))
        st_cell = (f"{fmt(st.loc[n, 'fid'])} (γ={st.loc[n, 'gamma']:g})" if n in st.index and st.loc[n, "status"] == "ok"
                   else "—")
        rows.append([f"round {c.get('stage', n)}", str(n), ddim_cell, st_cell, str(c.get("updates", "—")),
                     str(c.get("images", "—")), fmt(c.get("wall_seconds"), 1), fmt(c.get("fraction_of_teacher"))])
    if floor_fid(floor_record) is not None:
        floor_text = f"{fmt(floor_fid(floor_record))} / {fmt(floor_kid(floor_record), 0)}"
        rows.append(["real data (FID floor)", "—", floor_text, fmt(floor_fid(floor_record)), "—", "—", "—", "—"])
    header = ["stage", "student steps", "FID / KID DDIM", "FID stochastic\n(best γ, App. F)", "updates",
              "images processed", "wall time (s)", "× teacher\nwall time"]
    caption = (f"Profile '{cfg['profile']}', experiment '{name}' ({cfg['data']['name']}). A round processes each image "
               "with 2 teacher forwards and 1 student forward and backward. Wall time: training loop only, on this "
               "profile's device and threads, while other jobs of the workflow may share the machine (so ratios of "
               "wall times vary between runs; the images processed do not). With 1 step the stochastic sampler adds no noise (its last step returns "
               "x̂), so it equals DDIM. KID: the same evaluation's (minimum over the ranges; unbiased in N, ~0 for a "
               "perfect generator)." + (f" {describe_floor(floor_record)}" if floor_record else "") + "\n" +
               "".join(claim_line(c) for c in claims))
    return table_page("Progressive Distillation: students with DDIM and stochastic sampling, and cost", header, rows,
                      caption)
