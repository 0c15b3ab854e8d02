"""The claims registry: every paper's claims, each a check over reproduced results with its tolerance and the scales
(profiles) where it is expected to hold.

A claim reads one *subject* of the reproduced results:
  - "table1": the Table 1 grid, a frame of (parameterization, weighting, sampler, fid, is, status);
  - "pd_experiment": the summary `distill pd-report` writes for one pd.experiments entry (curves, teacher_best_fid,
    cost), checked once per experiment;
  - "table:<paper>/<table>": the reproduced rows of one published table, from every method that reproduces it
    (columns of distill.reports.reproduced: method, steps, reproduced, status, cost_seconds, ...).
Its check returns (status, detail) with status "holds", "does not hold" or "not checked" (inputs missing: never a
silent pass). A claim that does not hold where it is expected fails `distill compare`; elsewhere it is reported only.
Each method of the registry (distill.plugins) brings its claims module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from distill.registry import methods

HOLDS, FAILS, NOT_CHECKED = "holds", "does not hold", "not checked"


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    source: str  # where the paper supports it (table, figure, section)
    statement: str
    subject: str  # which reproduced result it reads: "table1" | "pd_experiment"
    check: Callable[[Any, float], tuple[str, str]]
    tolerance: float
    tolerance_text: str  # how the tolerance is applied; "{tol}" is replaced by its value
    expected_at: tuple[str, ...]  # profiles at which it must hold
    why_not_expected: str = ""  # why it is not expected at the other scales

    def describe_tolerance(self) -> str:
        return self.tolerance_text.format(tol=self.tolerance)


def _claims() -> tuple[Claim, ...]:
    """Every registered method's claims (its card names the module; default distill.claims.<method>)."""
    return tuple(c for m in methods() for c in importlib.import_module(m.claims_module).CLAIMS)


CLAIMS: tuple[Claim, ...] = _claims()


def _outcome(claim: Claim, profile: str, status: str, detail: str, subject_name: str | None) -> dict[str, Any]:
    expected = profile in claim.expected_at
    verdict = "FAIL" if expected and status == FAILS else ("ok" if status == HOLDS else
                                                           "not checked" if status == NOT_CHECKED else "not expected")
    return {"id": claim.id, "paper": claim.paper, "source": claim.source, "claim": claim.statement,
            "subject": subject_name, "tolerance": claim.describe_tolerance(), "expected_at": list(claim.expected_at),
            "expected_here": expected, "status": status, "detail": detail, "verdict": verdict,
            "why_not_expected": "" if expected else claim.why_not_expected}


def evaluate_subject(subject: str, data: Any, profile: str, name: str | None = None) -> list[dict[str, Any]]:
    """Check every claim about one subject (e.g. one PD experiment's summary) at this profile."""
    out = []
    for claim in CLAIMS:
        if claim.subject == subject:
            status, detail = claim.check(data, claim.tolerance)
            out.append(_outcome(claim, profile, status, detail, name))
    return out


def evaluate(subjects: Mapping[str, Mapping[str, Any]], profile: str) -> list[dict[str, Any]]:
    """Check every registered claim. `subjects` maps a subject kind to {name: data}; a claim whose subject has no
    data at all is reported 'not checked'."""
    out = []
    for claim in CLAIMS:
        found = subjects.get(claim.subject) or {}
        if not found:
            out.append(_outcome(claim, profile, NOT_CHECKED, f"no reproduced {claim.subject} results", None))
        for name, data in found.items():
            status, detail = claim.check(data, claim.tolerance)
            out.append(_outcome(claim, profile, status, detail, name))
    return out
