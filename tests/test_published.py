"""results/published/published.csv against results/published/PUBLISHED.md (the provenance record of every published
number): each table cell of PUBLISHED.md must be a CSV row with the same text and each CSV row must come from a cell or,
for numbers given in prose, from a quote found verbatim in PUBLISHED.md. A typo on either side fails."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
MD = (ROOT / "results" / "published" / "PUBLISHED.md").read_text()
CSV = pd.read_csv(ROOT / "results" / "published" / "published.csv", dtype=str, keep_default_na=False)
PROVENANCES = {"EXACT", "SECONDARY", "CODE", "PLOT", "NOT FOUND"}


def md_table(heading: str) -> list[list[str]]:
    """The body rows of the first markdown table after `heading`, cells stripped of bold markers."""
    lines = MD[MD.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.replace("**", "").strip() for c in line.strip().strip("|").split("|")])
    return rows


def cell_text(row: pd.Series) -> str:
    """A CSV row as the text of its table cell: qualifier then value ('~195', '< 5533', 'N/A', '–', '2.54')."""
    if row["qualifier"] in ("N/A", "–"):
        return row["qualifier"]
    return f"{row['qualifier']} {row['value']}" if row["qualifier"] in ("<", ">") else row["qualifier"] + row["value"]


def rows(paper: str, table: str, **where: str) -> pd.DataFrame:
    sel = CSV[(CSV["paper"] == paper) & (CSV["table"] == table)]
    for k, v in where.items():
        sel = sel[sel[k] == v]
    return sel


def test_columns_and_vocabulary():
    assert list(CSV.columns) == ["paper", "table", "dataset", "resolution", "method", "parameterization", "weighting",
                                 "sampler", "steps", "guidance", "metric", "qualifier", "value", "provenance",
                                 "source", "note", "quote"]
    assert set(CSV["provenance"]) <= PROVENANCES
    assert set(CSV["paper"]) == {"PD", "Guided", "SFD", "DisBack"}
    for r in CSV.itertuples():
        if r.value:
            float(r.value)  # every value is a plain number; qualifiers (~, <, ≈) live in their own column
            assert r.source, f"row {r} has a value but no source"
        if r.provenance == "NOT FOUND":
            assert not r.value, f"NOT FOUND row filled: {r}"  # missing stays missing, never filled


def test_pd_table1_cells():
    P = {"(x, ε) combined": "both", "x": "x", "ε": "eps", "v": "v"}
    W = {"SNR": "snr", "Truncated SNR": "snr_trunc", "SNR+1": "snr_plus_one"}
    expected = Counter()
    for output, weighting, stochastic, ddim in md_table("**Table 1 (EXACT, S1).**"):
        for sampler, cell in (("ancestral", stochastic), ("ddim", ddim)):
            parts = ["N/A", "N/A"] if cell == "N/A" else cell.split("/")
            for metric, text in zip(("FID", "IS"), parts):
                expected[(P[output], W[weighting], sampler, metric, text)] += 1
    got = Counter((r["parameterization"], r["weighting"], r["sampler"], r["metric"], cell_text(r))
                  for _, r in rows("PD", "Table 1").iterrows())
    assert got == expected


def test_pd_table2_rows():
    expected = Counter()
    for method, evaluations, fids in md_table("**Table 2 (EXACT, S1; S9 agrees for PD rows).**"):
        expected.update((method, n, v) for n, v in zip(evaluations.split(" / "), fids.split(" / "), strict=True))
    got = Counter((r["method"], r["steps"], cell_text(r)) for _, r in rows("PD", "Table 2").iterrows())
    assert got == expected


def test_sfd_tables_2_and_3():
    expected = Counter()
    for method, nfe, c_fid, c_time, i_fid, i_time in md_table('**Table 2: "Results on CIFAR10 32 × 32."'):
        nfes = nfe.split(" / ")
        for table, fids, time in (("Table 2", c_fid, c_time), ("Table 3", i_fid, i_time)):
            expected.update((table, method, n, "FID", v) for n, v in zip(nfes, fids.split(" / "), strict=True))
            steps = ";".join(nfes) if len(nfes) > 1 else nfe
            expected[(table, method, steps, "fine-tuning time (A100 h)", time.replace(" (total)", ""))] += 1
    got = Counter()
    for table in ("Table 2", "Table 3"):
        got.update((table, r["method"], r["steps"], r["metric"], cell_text(r)) for _, r in rows("SFD", table).iterrows())
    assert got == expected


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_prose_numbers_are_quoted_verbatim():
    """Numbers outside the tables carry the words they were copied from; the words and the number must both match."""
    tabled = {("PD", "Table 1"), ("PD", "Table 2"), ("SFD", "Table 2"), ("SFD", "Table 3")}
    in_prose = pd.Series([(p, t) not in tabled for p, t in zip(CSV["paper"], CSV["table"])], index=CSV.index)
    prose = CSV[in_prose & (CSV["value"] != "")]
    assert len(prose) >= 10
    text = _squash(MD)
    for _, r in prose.iterrows():
        assert r["quote"], f"{r['paper']} {r['table']} {r['method']} {r['value']}: no quote"
        assert _squash(r["quote"]) in text, f"quote not in PUBLISHED.md: {r['quote']!r}"
        assert re.search(rf"(?<![0-9.]){re.escape(r['value'])}(?![0-9])", r["quote"]), \
            f"value {r['value']} not in its quote {r['quote']!r}"


def test_secondary_and_plot_rows_are_marked():
    guided = CSV[(CSV["paper"] == "Guided") & (CSV["metric"] == "FID")]
    assert set(guided["provenance"]) == {"SECONDARY"}  # Meng et al.'s own tables could not be read
    assert set(rows("SFD", "Figure 1", metric="FID")["qualifier"]) == {"≈"}
    assert set(rows("SFD", "Figure 1", metric="FID")["provenance"]) == {"PLOT"}


@pytest.mark.parametrize("paper,marker", [("PD", "Every other point of every other curve is **NOT FOUND**"),
                                          ("Guided", "**NOT FOUND**"), ("SFD", "**NOT FOUND**"),
                                          ("DisBack", "**All tables and convergence curves")])
def test_not_found_is_listed_as_missing(paper, marker):
    assert marker in MD
    missing = CSV[(CSV["paper"] == paper) & (CSV["provenance"] == "NOT FOUND")]
    assert len(missing) >= 1 and (missing["value"] == "").all()
