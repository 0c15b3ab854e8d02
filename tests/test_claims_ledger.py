"""The claims ledger (distill/claims/ledger.json): the registry and the ledger agree; narrowing an expectation or
loosening a tolerance without a recorded relaxation fails; widening or tightening needs only the new state."""

from __future__ import annotations

import copy
import dataclasses

from conftest import ROOT
from distill.claims import ledger as L
from distill.claims.registry import CLAIMS


def _claim(cid: str):
    return next(c for c in CLAIMS if c.id == cid)


def _with(claims, cid: str, **change):
    return [dataclasses.replace(c, **change) if c.id == cid else c for c in claims]


def test_the_committed_ledger_and_the_registry_agree():
    assert L.problems(CLAIMS, L.load()) == []
    assert all(len(h) >= 1 and {"date", "commit", "expected_at", "tolerance"} <= set(h[0]) for h in L.load().values())


def test_a_narrowed_expectation_fails_until_the_ledger_records_the_relaxation():
    ledger = L.load()
    narrowed = _with(CLAIMS, "pd.fig4.students_near_teacher", expected_at=("paper",))
    found = L.problems(narrowed, ledger)
    assert len(found) == 1 and "pd.fig4.students_near_teacher" in found[0] and "no longer expected at mini" in found[0]
    recorded = copy.deepcopy(ledger)
    state = {"date": "2026-12-08", "commit": "0000000", "expected_at": ["paper"], "tolerance": 1.5}
    recorded["pd.fig4.students_near_teacher"].append(state)
    assert "without the result" in " ".join(L.problems(narrowed, recorded))  # a relaxation needs its reason
    state["relaxed"] = {"result": "a student read 2x its teacher", "why": "a measured reason"}
    assert L.problems(narrowed, recorded) == []
    assert any("pd.fig4.students_near_teacher" in r for r in L.relaxations(recorded))


def test_a_loosened_tolerance_fails_in_either_direction_a_claim_is_written():
    ledger = L.load()
    upper = _claim("pd.fig4.students_near_teacher")  # student FID <= tol x teacher's: larger is looser
    lower = _claim("pd.fig4.ddim_clearly_worse")  # teacher DDIM FID >= tol x student's: smaller is looser
    assert "loosened" in " ".join(L.problems(_with(CLAIMS, upper.id, tolerance=upper.tolerance * 2), ledger))
    assert "loosened" in " ".join(L.problems(_with(CLAIMS, lower.id, tolerance=lower.tolerance / 2), ledger))
    tightened = L.problems(_with(CLAIMS, upper.id, tolerance=upper.tolerance / 2), ledger)
    assert len(tightened) == 1 and "loosened" not in tightened[0]  # only the new state to record


def test_widening_needs_only_its_new_state_and_a_claim_is_registered_before_its_results():
    ledger = copy.deepcopy(L.load())
    cid = "guided.abstract.speedup"
    widened = _with(CLAIMS, cid, expected_at=("mini", "paper"))
    assert len(L.problems(widened, ledger)) == 1
    ledger[cid].append({"date": "2026-12-08", "commit": "0000000", "expected_at": ["mini", "paper"],
                        "tolerance": _claim(cid).tolerance})
    assert L.problems(widened, ledger) == []
    del ledger[cid]
    assert "not in distill/claims/ledger.json" in " ".join(L.problems(CLAIMS, ledger))


def test_the_recorded_relaxations_name_their_result_and_reason():
    found = L.relaxations()
    assert any(r.startswith("sfd.table2.nfe2_beats_solvers_at_nfe5") and "79.8" in r for r in found)
    assert any(r.startswith("guided.baseline.w_student_matches_fixed") for r in found)


def test_every_spread_a_reason_quotes_is_the_committed_one():
    """A paper-only reason that quotes a training-seed spread ("47.09 ± 8.08") quotes a mean and standard deviation
    of a committed spread CSV (results/mini/spread/*.csv) to its printed digits: a re-made spread that moves them
    fails here until the reason is brought up to date."""
    import glob
    import re

    import pandas as pd

    from distill.claims.registry import CLAIMS

    measured = [(float(r.mean), float(r.std)) for path in glob.glob(str(ROOT / "results" / "mini" / "spread" / "*.csv"))
                for r in pd.read_csv(path).itertuples() if pd.notna(r.mean) and pd.notna(r.std)]
    quoted = [(c.id, m.group(1), m.group(2)) for c in CLAIMS
              for m in re.finditer(r"(\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?)", c.why_not_expected)]
    assert quoted, "no reason quotes a spread: this test would check nothing"

    def digits(text):
        return len(text.split(".")[1]) if "." in text else 0

    stale = [q for q in quoted if not any(round(mean, digits(q[1])) == float(q[1]) and
                                          round(std, digits(q[2])) == float(q[2]) for mean, std in measured)]
    assert not stale, f"reasons quoting a spread no committed spread CSV holds: {stale}"
