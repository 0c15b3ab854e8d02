"""What a reader of a report page must never meet, read from the PDF itself (pdfplumber's character and word boxes):
text drawn over text, a word that leaves the page, a word that crosses a table cell's border (a cell whose text
overflowed into its neighbour)."""

from __future__ import annotations

from pathlib import Path

OVERLAP = 0.3  # two glyphs overlap when their boxes share more than this fraction of the smaller one's area
KERNING = 0.4  # on one line, glyphs of one word may overlap by less than this fraction of the narrower's width


def _rotated(c: dict) -> bool:
    a, b, c_, d = c["matrix"][:4]
    return abs(b) > 1e-3 or abs(c_) > 1e-3  # a rotated tick label's boxes are not its glyphs' outlines


def _overlaps(chars: list[dict]) -> list[str]:
    out = []
    chars = sorted(chars, key=lambda c: c["x0"])
    for i, a in enumerate(chars):
        for b in chars[i + 1:]:
            if b["x0"] >= a["x1"]:
                break
            ox = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            oy = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if ox <= 0 or oy <= 0:
                continue
            same_line = abs(a["top"] - b["top"]) < 0.5 and abs(a["size"] - b["size"]) < 0.1
            if same_line and ox < KERNING * min(a["x1"] - a["x0"], b["x1"] - b["x0"]):
                continue
            area = min((a["x1"] - a["x0"]) * (a["bottom"] - a["top"]), (b["x1"] - b["x0"]) * (b["bottom"] - b["top"]))
            if area > 0 and ox * oy / area > OVERLAP:
                out.append(f"{a['text']!r} at ({a['x0']:.0f}, {a['top']:.0f}) is drawn over {b['text']!r}")
    return out


def page_problems(pdf: str | Path) -> list[str]:
    """Every problem of every page of a PDF, as 'page N: what'."""
    import pdfplumber

    out = []
    with pdfplumber.open(pdf) as doc:
        for n, page in enumerate(doc.pages, 1):
            chars = [c for c in page.chars if c["text"].strip()]
            for c in chars:
                if c["x0"] < -0.5 or c["x1"] > page.width + 0.5 or c["top"] < -0.5 or c["bottom"] > page.height + 0.5:
                    out.append(f"page {n}: {c['text']!r} at ({c['x0']:.0f}, {c['top']:.0f}) leaves the page")
            out += [f"page {n}: {p}" for p in _overlaps([c for c in chars if not _rotated(c)])]
            edges = [(x, r["top"], r["bottom"]) for r in page.rects for x in (r["x0"], r["x1"])]
            for w in page.extract_words(x_tolerance=1.5):
                for x, top, bottom in edges:
                    if w["x0"] + 0.5 < x < w["x1"] - 0.5 and w["top"] < bottom and w["bottom"] > top:
                        out.append(f"page {n}: {w['text']!r} crosses a table cell's border at x = {x:.0f}")
                        break
    return out
