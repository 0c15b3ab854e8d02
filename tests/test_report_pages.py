"""Every report page reads cleanly: no text over text, no word off the page or across a cell's border (checked on
the PDFs themselves, tests/page_check.py). Each report the smoke pipeline builds is checked (the README run's), so a
new method's report inherits the check."""

from __future__ import annotations

from pathlib import Path

import pytest

from page_check import page_problems

LONG = "Progressive Distillation (ours), with a long published name / 47.24 (47.08 ± 8.08) / 38.81 (38.95 ± 8.00)"


def _raw_table(path):
    """A table as matplotlib draws it unwrapped: the text of a narrow cell runs into its neighbours."""
    from distill.reports.pdf import pyplot, save_pdf

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    tab = ax.table(cellText=[[LONG, "4 / 2 / 1", "0.5 min"]], colLabels=["Method", "Model evaluations", "Cost"],
                   colWidths=[0.3, 0.3, 0.3], loc="center")
    tab.auto_set_font_size(False)  # as report tables are set: readable type, not shrunk to fit
    tab.set_fontsize(9)
    save_pdf(path, [fig])


def test_the_check_finds_an_overflowing_table_and_passes_a_wrapped_one(tmp_path):
    from distill.reports.pdf import save_pdf, table_page

    _raw_table(tmp_path / "raw.pdf")
    assert page_problems(tmp_path / "raw.pdf"), "an overflowing table passed the page check"
    page = table_page("A table", ["Method", "Model evaluations", "Cost"], [[LONG, "4 / 2 / 1", "0.5 min"]],
                      "A caption long enough to wrap over several lines. " * 12, width=6.0)
    save_pdf(tmp_path / "wrapped.pdf", [page])
    assert page_problems(tmp_path / "wrapped.pdf") == []


@pytest.mark.integration
def test_every_report_the_smoke_pipeline_builds_reads_cleanly(readme_project):
    pdfs = sorted((readme_project.require() / "reports").glob("*.pdf"))
    assert {"table1.pdf", "table2.pdf", "kd_digits.pdf", "compare.pdf"} <= {p.name for p in pdfs}
    problems = {p.name: found[:5] for p in pdfs if (found := page_problems(p))}
    assert problems == {}


def test_the_check_finds_text_over_text_and_a_word_across_a_border(tmp_path):
    from distill.reports.pdf import pyplot, save_pdf

    plt = pyplot()
    fig = plt.figure(figsize=(5, 2))
    fig.text(0.1, 0.6, "FID 47.24 (47.08 ± 8.08)", fontsize=9)
    fig.text(0.14, 0.6, "model evaluations", fontsize=9)  # a neighbour's text over it
    ax = fig.add_axes([0.1, 0.1, 0.8, 0.3])
    ax.axis("off")
    tab = ax.table(cellText=[["38.81", ""]], colWidths=[0.05, 0.5], loc="center", cellLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(9)
    save_pdf(tmp_path / "bad.pdf", [fig])
    found = page_problems(tmp_path / "bad.pdf")
    assert any("is drawn over" in p for p in found), found
    assert any("'38.81' crosses a table cell's border" in p for p in found), found


def test_committed_reports_are_built_from_a_clean_tree():
    """Every committed report's footer names the commit that built it; a '+dirty' build is not reproducible from any
    commit, so none may be committed (rebuild it from a clean clone)."""
    import subprocess

    import pdfplumber

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files", "reports/*.pdf"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split()
    assert files
    dirty = []
    for name in files:
        with pdfplumber.open(root / name) as pdf:
            if any("+dirty" in (page.extract_text() or "") for page in pdf.pages):
                dirty.append(name)
    assert not dirty, f"reports built from a dirty tree: {dirty}"
