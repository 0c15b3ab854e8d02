"""Page 1 of `distill compare`: the claims table (one row per claim check, each reason a claim is not expected at
this scale as a footnote once), the counts by scale and by paper, and the relaxed claims of the ledger."""

from __future__ import annotations

from typing import Any

from distill.claims.ledger import load, relaxations as recorded
from distill.claims.registry import HOLDS, NOT_CHECKED

Comparison = Any  # distill.reports.compare.Comparison (not imported: compare imports this module)


RELAXED_NOTE = ("Every claim whose expectation was narrowed or whose tolerance was loosened after it was registered, "
                "with the result that contradicted it and why (distill/claims/ledger.json):")


def relaxations() -> list[str]:
    return recorded()


def scale_counts(c: Comparison) -> str:
    """The claims by scale, in one line: how many of those expected at this profile hold, and how many of the others
    (expected only at other scales) hold here anyway."""
    expected = [o for o in c.claims if o["expected_here"] and o["status"] != NOT_CHECKED]
    others = [o for o in c.claims if not o["expected_here"] and o["status"] != NOT_CHECKED]
    unchecked = sum(o["status"] == NOT_CHECKED for o in c.claims)
    other_scales = sorted({p for o in others for p in o["expected_at"]}) or ["none"]
    return (f"{c.profile}: {sum(o['status'] == HOLDS for o in expected)} of {len(expected)} claim checks expected at "
            f"this scale hold; expected only at {'/'.join(other_scales)}: {sum(o['status'] == HOLDS for o in others)} "
            f"of {len(others)} hold here anyway" + (f"; {unchecked} not checked (inputs missing)" if unchecked else "")
            + ".")


def paper_counts(c: Comparison) -> list[str]:
    """Per paper, the claim checks expected at this scale that hold, and the others that hold here anyway."""
    out = []
    for paper in dict.fromkeys(o["paper"] for o in c.claims):
        mine = [o for o in c.claims if o["paper"] == paper and o["status"] != NOT_CHECKED]
        exp = [o for o in mine if o["expected_here"]]
        other = [o for o in mine if not o["expected_here"]]
        out.append(f"{paper}: {sum(o['status'] == HOLDS for o in exp)} of {len(exp)} expected at {c.profile} hold, "
                   f"{sum(o['status'] == HOLDS for o in other)} of {len(other)} paper-only hold here")
    return out


CLAIMS_TABLE_HEADER = ["paper", "claim [id]", "expected at", "holds here?", "the numbers", "note"]


def claims_table(c: Comparison) -> tuple[list[list[str]], list[str]]:
    """Page 1's rows (one per claim check) and its footnotes: each reason a claim is not expected at this scale
    (given where it does not hold here) once, numbered; relaxed claims marked R."""
    relaxed = {cid for cid, states in load().items() if any(s.get("relaxed") for s in states)}
    notes: list[str] = []
    rows = []
    for o in c.claims:
        marks = []
        if not o["expected_here"] and o["status"] not in (HOLDS, NOT_CHECKED) and o["why_not_expected"]:
            if o["why_not_expected"] not in notes:
                notes.append(o["why_not_expected"])
            marks.append(f"[{notes.index(o['why_not_expected']) + 1}]")
        if o["id"] in relaxed:
            marks.append("[R]")
        holds = {HOLDS: "yes", NOT_CHECKED: "not checked"}.get(o["status"], "no")
        if o["verdict"] == "FAIL":
            holds = "NO (FAIL)"
        subject = f" ({o['subject']})" if o["subject"] and o["subject"] not in ("digits", "sfd", "table1") else ""
        rows.append([o["paper"], f"{o['claim']}{subject} [{o['id']}]", ", ".join(o["expected_at"]) or "—", holds,
                     o["detail"], " ".join(marks)])
    return rows, [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
