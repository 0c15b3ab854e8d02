"""PDF pages for the reports: a titled table with a caption, and saving pages without a creation date (same content,
same bytes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path


def claim_line(c: dict) -> str:
    """One claim of the registry's outcome as a caption line (with whether it is expected at this scale)."""
    where = "" if c["expected_here"] else "; not expected at this scale"
    return (f"\nPaper's claim — {c['claim']} ({c['tolerance']}): {c['status'].upper()} at this scale "
            f"({c['detail']}{where}).")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def table_page(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], caption: str,
               bold: Iterable[tuple[int, int]] = (), width: float = 11.0, font_size: float = 8.5,
               col_widths: Sequence[float] | None = None):
    """A figure holding one table (bold header; `bold` cells as (row, column), rows counted from 1) and a caption."""
    plt = pyplot()
    bold = set(bold)
    lines = max(1, caption.count("\n") + len(caption) // 150)
    row_lines = [max(1, *(str(v).count("\n") + 1 for v in r)) for r in rows]  # a cell may hold several lines
    table_h, caption_h = 0.6 + 0.3 * (sum(row_lines) + 2), 0.5 + 0.17 * lines
    fig = plt.figure(figsize=(width, table_h + caption_h + 0.6))
    total = table_h + caption_h + 0.6
    ax = fig.add_axes([0.02, (caption_h + 0.1) / total, 0.96, table_h / total])
    ax.axis("off")
    tab = ax.table(cellText=[list(r) for r in rows], colLabels=list(header), loc="center", cellLoc="center",
                   colWidths=list(col_widths) if col_widths else None)
    tab.auto_set_font_size(False)
    tab.set_fontsize(font_size)
    tab.scale(1, 1.3)
    for (r, c), cell in tab.get_celld().items():
        if r == 0 or (r, c) in bold:
            cell.set_text_props(weight="bold")
        if r == 0:
            cell.set_height(cell.get_height() * 1.6)
        elif row_lines[r - 1] > 1:
            cell.set_height(cell.get_height() * row_lines[r - 1])
    fig.suptitle(title, fontsize=11, weight="bold", y=1 - 0.25 / total)
    fig.text(0.03, 0.1 / total, caption, wrap=True, fontsize=font_size, va="bottom")
    return fig


def text_page(title: str, paragraphs: Sequence[str], width: float = 11.0, font_size: float = 8.0, chars: int = 150):
    """A figure of wrapped paragraphs under a title (for lists too long for table cells)."""
    import textwrap

    plt = pyplot()
    lines = []
    for para in paragraphs:
        lines += textwrap.wrap(para, chars, subsequent_indent="    ") or [""]
        lines.append("")
    line_h = font_size * 1.45 / 72  # inches
    height = 1.0 + line_h * len(lines)
    fig = plt.figure(figsize=(width, height))
    fig.suptitle(title, fontsize=11, weight="bold", y=1 - 0.3 / height)
    fig.text(0.03, 1 - 0.7 / height, "\n".join(lines), fontsize=font_size, va="top", family="DejaVu Sans")
    return fig


def footer() -> str:
    """The line at the foot of every page: the commit of the code that built the report and where to find each
    number's own commit and machine."""
    from distill.core.provenance import short_commit

    return (f"distill {short_commit()} · each number's commit and machine: results/<profile>/results.csv "
            "(columns commit, machine)")


def save_pdf(path: str | Path, figures: Sequence) -> None:
    """Write the figures as the pages of one PDF, each with the footer (no creation date, so a rerun of the same
    commit gives the same bytes)."""
    from matplotlib.backends.backend_pdf import PdfPages

    plt = pyplot()
    text = footer()
    with PdfPages(path, metadata={"CreationDate": None}) as pdf:
        for fig in figures:
            fig.text(0.99, 0.003, text, fontsize=6, color="0.4", ha="right", va="bottom")
            pdf.savefig(fig)
            plt.close(fig)
