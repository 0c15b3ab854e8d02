"""PDF pages for the reports: a titled table with a caption, and saving pages without a creation date (same content,
same bytes)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from distill.core.provenance import short_commit


def claim_line(c: dict) -> str:
    """One claim of the registry's outcome as a caption line (with whether it is expected at this scale)."""
    where = "" if c["expected_here"] else "; not expected at this scale"
    return (f"\nPaper's claim — {c['claim']} ({c['tolerance']}): {c['status'].upper()} at this scale "
            f"({c['detail']}{where}).")


def pyplot():
    matplotlib.use("Agg")

    return plt


# Layout arithmetic of the pages, in inches: text is wrapped here, to widths measured in characters of the font
# size, so a cell or a caption never runs into its neighbour or the footer (tests/test_report_pages.py reads the word
# boxes of every built page to check it).
CHAR_EM = 0.62  # an upper bound of DejaVu Sans' mean glyph width (digits 0.64, lower case ~0.55), in font sizes
LINE_EM = 1.3  # line height, in font sizes (matplotlib's line spacing 1.2, plus a margin)
FOOTER_H = 0.22  # the band the footer line keeps free at the foot of every page


def chars_in(inches: float, font_size: float) -> int:
    """How many characters of this font size fit in a width (at least 4)."""
    return max(4, int(inches * 72 / (font_size * CHAR_EM)))


def wrap(text: str, chars: int) -> str:
    """Text wrapped to `chars` per line, its own line breaks kept."""
    return "\n".join(textwrap.fill(line, chars, break_long_words=True, break_on_hyphens=False) if line.strip()
                     else "" for line in str(text).split("\n"))


def line_height(font_size: float) -> float:
    return font_size * LINE_EM / 72


def caption_block(caption: str, width: float, font_size: float) -> tuple[str, float]:
    """The caption wrapped to a page of this width, and its height in inches."""
    text = wrap(caption.strip("\n"), chars_in(width - 0.4, font_size))
    return text, (text.count("\n") + 1) * line_height(font_size) if text else 0.0


def table_page(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], caption: str,
               bold: Iterable[tuple[int, int]] = (), width: float = 11.0, font_size: float = 8.5,
               col_widths: Sequence[float] | None = None):
    """A figure holding one table (bold header; `bold` cells as (row, column), rows counted from 1) and a caption.
    Every cell's text is wrapped to its column and every row is as tall as its tallest cell; the page is as tall as
    the title, the table, the caption and the footer band need."""
    plt = pyplot()
    bold = set(bold)
    fractions = list(col_widths) if col_widths else [1.0] * len(header)
    fractions = [f / sum(fractions) for f in fractions]
    table_w = width * 0.96
    chars = [chars_in(table_w * f - 0.1, font_size) for f in fractions]  # 0.05 in padding each side of a cell
    cells = [[wrap(v, chars[j]) for j, v in enumerate(r)] for r in rows]
    head = [wrap(h, chars[j]) for j, h in enumerate(header)]
    line, pad = line_height(font_size), 0.1
    heights = [(max(t.count("\n") + 1 for t in r) * line + pad) for r in [head, *cells]]
    table_h = sum(heights)
    text, caption_h = caption_block(caption, width, font_size)
    title_h = 0.55
    total = title_h + table_h + 0.2 + caption_h + 0.1 + FOOTER_H
    fig = plt.figure(figsize=(width, total))
    bottom = FOOTER_H + 0.1 + caption_h + 0.2
    ax = fig.add_axes([0.02, bottom / total, 0.96, table_h / total])
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=head, cellLoc="center", colWidths=fractions, bbox=[0, 0, 1, 1])
    tab.auto_set_font_size(False)
    tab.set_fontsize(font_size)
    for (r, c), cell in tab.get_celld().items():
        cell.set_height(heights[r] / table_h)
        if r == 0 or (r, c) in bold:
            cell.set_text_props(weight="bold")
    fig.suptitle(title, fontsize=11, weight="bold", y=1 - 0.2 / total, va="top")
    fig.text(0.02, (FOOTER_H + 0.1 + caption_h) / total, text, fontsize=font_size, va="top", linespacing=1.2)
    return fig


def figure_caption(fig, caption: str, font_size: float = 7.0) -> None:
    """Put a caption under a figure's axes, above the footer band: the figure grows by the caption's height and its
    axes are laid out above it."""
    width, height = fig.get_size_inches()
    text, caption_h = caption_block(caption, width, font_size)
    if not text:
        fig.tight_layout(rect=(0, FOOTER_H / height, 1, 1))
        return
    reserved = FOOTER_H + 0.1 + caption_h
    fig.set_size_inches(width, height + reserved)
    total = height + reserved
    fig.text(0.02, (FOOTER_H + caption_h) / total, text, fontsize=font_size, va="top", linespacing=1.2)
    fig.tight_layout(rect=(0, (reserved + 0.05) / total, 1, 1))


def text_page(title: str, paragraphs: Sequence[str], width: float = 11.0, font_size: float = 8.0, chars: int = 150):
    """A figure of wrapped paragraphs under a title (for lists too long for table cells)."""
    plt = pyplot()
    lines = []
    for para in paragraphs:
        lines += textwrap.wrap(para, min(chars, chars_in(width - 0.6, font_size)), subsequent_indent="    ") or [""]
        lines.append("")
    line_h = font_size * 1.45 / 72  # inches
    height = 1.0 + line_h * len(lines) + FOOTER_H
    fig = plt.figure(figsize=(width, height))
    fig.suptitle(title, fontsize=11, weight="bold", y=1 - 0.3 / height)
    fig.text(0.03, 1 - 0.7 / height, "\n".join(lines), fontsize=font_size, va="top", family="DejaVu Sans")
    return fig


def footer() -> str:
    """The line at the foot of every page: the commit of the code that built the report and where to find each
    number's own commit and machine."""
    return (f"distill {short_commit()} · each number's commit and machine: results/<profile>/results.csv "
            "(columns commit, machine)")


def save_pdf(path: str | Path, figures: Sequence) -> None:
    """Write the figures as the pages of one PDF, each with the footer (no creation date, so a rerun of the same
    commit gives the same bytes)."""
    plt = pyplot()
    text = footer()
    with PdfPages(path, metadata={"CreationDate": None}) as pdf:
        for fig in figures:
            # inside the page's FOOTER_H band, its descenders on the page too
            fig.text(0.99, 0.06 / fig.get_size_inches()[1], text, fontsize=6, color="0.4", ha="right", va="bottom")
            pdf.savefig(fig)
            plt.close(fig)
