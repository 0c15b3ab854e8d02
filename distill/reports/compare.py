"""`distill compare`: every published number beside its reproduction, every registered claim checked, and what is
missing, for one profile's results; reports/compare.md and reports/compare.pdf.

The run fails (exit status 1) when a claim expected at the run's scale does not hold, or when, at the paper scale, a
reproduced number is farther from the published one than its tolerance (or its run failed). Numbers of the reduced
profiles come from other data (they stand in for the paper's data set): they are shown beside the published ones,
not tested, and without a ratio (a digits FID and a CIFAR-10 FID are not comparable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from distill.claims import evaluate
from distill.claims.tolerances import tolerances
from distill.core.checkpoint import atomic_write
from distill.pipeline import floor
from distill.registry import methods
from distill.reports import published as published_numbers
from distill.reports.format import fmt as _num
from distill.reports.labels import LABELS
from distill.reports.pdf import save_pdf, table_page, text_page
from distill.reports.compare_claims import (  # noqa: F401  (page 1; the command reads them from here)
    CLAIMS_TABLE_HEADER, RELAXED_NOTE, claims_table, paper_counts, relaxations, scale_counts)
from distill.reports.reproduced import KEYS, collect

PAPER_SCALE = "paper"
UNKNOWN_W = "w unknown"  # published.csv's guidance of a row whose paper does not state its w


def implemented() -> dict[tuple[str, str], set[str] | None]:
    """The published tables this suite reproduces and, per table, the published methods it fills (None: every
    row), from the method registry: a table several methods fill (PD Table 2) gets the union."""
    out: dict[tuple[str, str], set[str] | None] = {}
    for m in methods():
        for key, names in m.reproduces.items():
            if names is None or (key in out and out[key] is None):
                out[key] = None
            else:
                out[key] = set(out.get(key) or set()) | set(names)
    return out
WITHIN, BEYOND, STAND_IN, RUN_FAILED, PUBLISHED_NA, BOTH_FAILED = (
    "within tolerance", "BEYOND tolerance", "stand-in data: not tested", "run failed", "published N/A",
    "agrees: both diverged")
FAILING = {BEYOND, RUN_FAILED}


@dataclass
class Comparison:
    profile: str
    numbers: pd.DataFrame  # published rows in scope, with their reproduction and verdict
    claims: list[dict[str, Any]]
    missing: pd.DataFrame  # in-scope published numbers with no reproduction
    not_found: pd.DataFrame  # what PUBLISHED.md marks NOT FOUND
    not_implemented: pd.DataFrame  # published tables no method of this suite reproduces yet (count per table)
    unmatched: pd.DataFrame  # reproduced numbers with no published counterpart
    failures: list[str] = field(default_factory=list)
    tables: dict[tuple[str, str], set[str] | None] = field(default_factory=dict)  # what the suite reproduces

    @property
    def passed(self) -> bool:
        return not self.failures


def _in_scope(row: pd.Series, scope: dict[tuple[str, str], set[str] | None]) -> bool:
    key = (row["paper"], row["table"])
    return key in scope and (scope[key] is None or row["method"] in scope[key])


def _verdict(row: pd.Series, paper_scale: bool, tols: dict) -> str:
    if pd.isna(row["reproduced_status"]):
        return "missing"
    ok = row["reproduced_status"] == "ok" and not pd.isna(row["reproduced"])
    if row["qualifier"] == "N/A":
        return BOTH_FAILED if row["reproduced_status"] == "diverged" else PUBLISHED_NA
    if not ok:
        return RUN_FAILED if paper_scale else f"run {row['reproduced_status']}"
    if not paper_scale:
        return STAND_IN
    tol = tols.get((row["paper"], row["table"], row["metric"]))
    if tol is None:
        return "no tolerance set"
    return WITHIN if tol.within(row["value"], row["reproduced"]) else BEYOND


def compare(cfg: dict[str, Any], results: Path, published_csv: Path) -> Comparison:
    profile, paper_scale = cfg["profile"], cfg["profile"] == PAPER_SCALE
    reproduced, subjects = collect(cfg, results)
    pub = published_numbers.load(published_csv)
    tables = implemented()
    scope = pub.apply(_in_scope, axis=1, scope=tables)
    found = pub["provenance"] != "NOT FOUND"
    in_scope = pub[scope & found].copy()
    rep = reproduced.rename(columns={"status": "reproduced_status"})
    numbers = in_scope.merge(rep[KEYS + ["reproduced", "reproduced_status", "run_dataset", "run_resolution"]],
                             how="left", on=KEYS)
    numbers["ratio"] = numbers["reproduced"] / numbers["value"]
    tols = tolerances()
    numbers["tolerance"] = [tols[k].describe() if (k := (p, t, m)) in tols else ""
                            for p, t, m in zip(numbers["paper"], numbers["table"], numbers["metric"])]
    numbers["verdict"] = numbers.apply(_verdict, axis=1, paper_scale=paper_scale, tols=tols)
    matched = rep.merge(in_scope[KEYS], how="left", on=KEYS, indicator=True)
    unmatched = matched[matched["_merge"] == "left_only"].drop(columns="_merge")
    other = pub[~scope & found & pub["value"].notna()]
    not_implemented = other.groupby(["paper", "table"], sort=False).size().reset_index(name="n")
    claims = evaluate(subjects, profile)
    failures = [f"claim {c['id']} ({c['subject']}) expected at '{profile}' does not hold: {c['detail']}"
                for c in claims if c["verdict"] == "FAIL"]
    failures += [f"{r.paper} {r.table} {_label(r)}: {r.verdict} (published {_num(r.value)}, reproduced "
                 f"{_num(r.reproduced)}, tolerance {r.tolerance})"
                 for r in numbers.itertuples() if r.verdict in FAILING]
    return Comparison(profile, numbers, claims, numbers[numbers["verdict"] == "missing"], pub[~found],
                      not_implemented, unmatched, failures, tables)


def _label(r: Any) -> str:
    """A published row's identity in words: method, parameterization/weighting, sampler, steps, metric."""
    parts = [r.method]
    if r.parameterization:
        parts.append(f"{LABELS.get(r.parameterization, r.parameterization)}/{LABELS.get(r.weighting, r.weighting)}")
    if r.sampler:
        parts.append(LABELS.get(r.sampler, r.sampler))
    if r.steps:
        parts.append(f"{r.steps} step{'' if r.steps == '1' else 's'}")
    if getattr(r, "guidance", ""):
        parts.append(r.guidance if r.guidance == UNKNOWN_W else f"w = {r.guidance}")
    return ", ".join(parts) + f" — {r.metric}"


def _published_text(r: Any) -> str:
    if r.qualifier == "N/A":
        return "N/A"
    return f"{r.qualifier}{' ' if r.qualifier in ('<', '>') else ''}{r.value:.2f} ({r.provenance})"


def number_rows(c: Comparison) -> list[list[str]]:
    rows = []
    for r in c.numbers[c.numbers["verdict"] != "missing"].itertuples():
        run = f"{r.run_dataset}" + (f" {int(r.run_resolution)}px" if not pd.isna(r.run_resolution) else "")
        repro = _num(r.reproduced) if r.reproduced_status == "ok" else r.reproduced_status
        rows.append([f"{r.paper} {r.table}", f"{r.dataset} {int(r.resolution)}px", _label(r), _published_text(r),
                     f"{repro} ({run})", _ratio_text(r), r.tolerance if c.profile == PAPER_SCALE else "—",
                     r.verdict])
    return rows


def _ratio_text(r: Any) -> str:
    """reproduced / published where the run used the published data set; across data sets (a digits FID beside a
    CIFAR-10 one) the two numbers are not comparable, and no ratio is printed."""
    if pd.isna(r.run_dataset) or str(r.run_dataset) != str(r.dataset):
        return "not comparable"
    return _num(r.ratio)


NUMBER_HEADER = ["table", "published data", "number", "published", "reproduced (run data)", "ratio",
                 "tolerance", "verdict"]
CLAIM_HEADER = ["claim", "paper, source", "subject", "tolerance", "expected at", "status here", "verdict"]


def claim_rows(c: Comparison) -> list[list[str]]:
    return [[f"{o['claim']} [{o['id']}]", f"{o['paper']}, {o['source']}", o["subject"] or "—", o["tolerance"],
             ", ".join(o["expected_at"]), f"{o['status']}: {o['detail']}", o["verdict"]] for o in c.claims]


def missing_rows(c: Comparison) -> list[list[str]]:
    rows = [[f"{r.paper} {r.table}", f"{r.dataset} {int(r.resolution)}px", _label(r), _published_text(r),
             "the published row states no guidance weight: never matched to a reproduced w"
             if getattr(r, "guidance", "") == UNKNOWN_W else "not reproduced by this run"]
            for r in c.missing.itertuples()]
    implemented_papers = {paper for paper, _ in c.tables}
    rows += [[f"{r.paper} {r.table}", "", f"{r.n} published number(s)", "",
              "other papers' baselines in this table: not part of this suite" if (r.paper, r.table) in c.tables
              else "stated in the paper's prose, not a table row: checked through its claims where one tests it"
              if r.paper in implemented_papers
              else "a paper no method of this suite reproduces"] for r in c.not_implemented.itertuples()]
    rows += [[f"{r.paper} {r.table}", str(r.dataset), f"{r.method} ({r.sampler})" if r.sampler else r.method,
              "NOT FOUND", r.note] for r in c.not_found.itertuples()]
    return rows


MISSING_HEADER = ["table", "published data", "number", "published", "why missing"]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def clean(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(map(clean, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(clean, r)) + " |" for r in rows])


def headline(c: Comparison, cfg: dict[str, Any]) -> str:
    verdict = "PASS" if c.passed else f"FAIL ({len(c.failures)})"
    counts = c.numbers["verdict"].value_counts()
    claims = pd.Series([o["verdict"] for o in c.claims]).value_counts()
    scale = ("paper scale: numbers are tested against their tolerances" if c.profile == PAPER_SCALE else
             f"reduced scale ('{cfg['data']['name']}' stands in for the papers' data sets): numbers are shown beside "
             "the published ones, not tested; claims expected at this scale are tested")
    return (f"Profile '{c.profile}' — {scale}. Verdict: {verdict}. Numbers: "
            + ", ".join(f"{n} {v}" for v, n in counts.items()) + ". Claims: "
            + ", ".join(f"{n} {v}" for v, n in claims.items()) + ".")


def markdown(c: Comparison, cfg: dict[str, Any], floor_text: str = "") -> str:
    unmatched = (c.unmatched.groupby(["paper", "table", "method", "sampler"], sort=False).size()
                 .reset_index(name="n") if not c.unmatched.empty else pd.DataFrame())
    parts = [f"# Reproduced vs published — profile '{c.profile}'", "", headline(c, cfg), "",
             f"Claims by scale — {scale_counts(c)}", "", "By paper — " + "; ".join(paper_counts(c)) + ".", ""]
    if c.failures:
        parts += ["## Failures", ""] + [f"- {f}" for f in c.failures] + [""]
    parts += ["## Relaxed claims", "", RELAXED_NOTE, ""] + [f"- {r}" for r in relaxations()] + [""]
    parts += ["## Claims", "", _md_table(CLAIM_HEADER, claim_rows(c)), "",
              "## Numbers side by side", "",
              "Ratio = reproduced ÷ published, printed only where the run used the published data set: a reduced "
              "profile's numbers come from other data and stand beside the published ones, not comparable with them."
              + (f" {floor_text}" if floor_text else ""), "",
              _md_table(NUMBER_HEADER, number_rows(c)), "",
              "## Missing", "", _md_table(MISSING_HEADER, missing_rows(c)), ""]
    if not unmatched.empty:
        parts += ["## Reproduced without a published number", "",
                  _md_table(["paper", "table", "method", "sampler", "numbers"],
                            [[r.paper, r.table, r.method, r.sampler or "—", str(r.n)] for r in unmatched.itertuples()]),
                  ""]
    parts += ["Published numbers: results/published/published.csv (provenance EXACT / SECONDARY / CODE / PLOT, from "
              "results/published/PUBLISHED.md). Claims: distill/claims. Tolerances: each method's card (distill/plugins, its `tolerances`).", ""]
    return "\n".join(parts)


def _pages(title: str, header: list[str], rows: list[list[str]], caption: str, per_page: int = 26, **kw):
    chunks = [rows[i:i + per_page] for i in range(0, len(rows), per_page)] or [[["none"] + [""] * (len(header) - 1)]]
    return [table_page(f"{title}" + (f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else ""), header, chunk,
                       caption, **kw) for i, chunk in enumerate(chunks)]


def build(cfg: dict[str, Any], results: Path, published_csv: Path, md: Path, pdf: Path) -> Comparison:
    if not Path(results).is_dir():
        raise FileNotFoundError(f"no results folder {results}: run the pipeline for profile '{cfg['profile']}' first "
                                f"(snakemake --cores all --config profile={cfg['profile']}) or pass --results")
    c = compare(cfg, Path(results), Path(published_csv))
    floor_text = floor.profile_note(cfg, Path(results))
    text = markdown(c, cfg, floor_text)
    atomic_write(md, lambda p: Path(p).write_text(text))
    head = headline(c, cfg) + ("\n\n" + "\n".join(c.failures) if c.failures else "")
    rows, notes = claims_table(c)
    caption = "\n".join([head, "Claims by scale — " + scale_counts(c) + " By paper — " + "; ".join(paper_counts(c))
                         + ".", "Why a claim is not expected at this scale "
                         "(given only where it does not hold here):", *notes,
                         f"[R] relaxed after it was registered ({len(relaxations())}; page 2 says which result "
                         "contradicted it and why)."])
    pages = [table_page(f"distill compare — profile '{c.profile}': the papers' claims, checked on this run",
                        CLAIMS_TABLE_HEADER, rows, caption, width=13.0, font_size=7,
                        col_widths=[0.05, 0.27, 0.07, 0.06, 0.5, 0.05])]
    pages += [text_page("Relaxed claims", [f"{RELAXED_NOTE} {len(relaxations())}.", *relaxations()], width=13.0,
                        chars=190)]
    pages += _pages("Published numbers beside their reproduction", NUMBER_HEADER, number_rows(c),
                    "Ratio = reproduced ÷ published, only where the run used the published data set (else 'not "
                    "comparable'). " + (f"{floor_text} " if floor_text else "") + head,
                    font_size=7, width=13.0,
                    col_widths=[0.09, 0.09, 0.31, 0.1, 0.14, 0.08, 0.06, 0.13])
    pages += _pages("Missing: not reproduced, not yet implemented, or NOT FOUND in the papers", MISSING_HEADER,
                    missing_rows(c), "NOT FOUND rows are never filled in.", per_page=30, font_size=7, width=13.0,
                    col_widths=[0.14, 0.1, 0.38, 0.1, 0.28])
    atomic_write(pdf, lambda p: save_pdf(p, pages))
    return c
