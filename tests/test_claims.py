"""The claims registry: each claim holds, fails or is 'not checked' on crafted results, and its verdict depends on
whether the run's scale is one where the claim is expected to hold."""

from __future__ import annotations

import pandas as pd
import pytest

from distill.claims import CLAIMS, evaluate, evaluate_subject
from distill.claims import pd as pd_claims
from distill.claims import table1 as table1_claims


def _cost(teacher_images, rounds):
    """A PD cost table: each round's images; its wall time 3x noisier than its images (the claims read images)."""
    out = [{"stage": "teacher", "student_steps": None, "fraction_of_teacher": 1.0, "images_fraction_of_teacher": 1.0}]
    return out + [{"stage": f"{2 * n}→{n}", "student_steps": n, "fraction_of_teacher": 3 * s / teacher_images,
                   "images_fraction_of_teacher": s / teacher_images, "updates": s} for n, s in rounds]


def _summary(student=None, teacher=None, best=None, cost=()):
    return {"curves": {"distilled_ddim": {str(k): v for k, v in (student or {}).items()},
                       "teacher_ddim": {str(k): v for k, v in (teacher or {}).items()}},
            "teacher_best_fid": best, "cost": list(cost)}


def test_registry_ids_unique_and_complete():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    for c in CLAIMS:
        assert c.paper and c.source and c.statement
        assert c.expected_at or c.source.startswith("observation"), f"{c.id}: a claim is expected somewhere"
        assert set(c.expected_at) <= {"smoke", "mini", "paper"}
        assert "{tol}" in c.tolerance_text or c.tolerance == 0.0
        assert c.why_not_expected, f"{c.id}: say why it is not expected at the other scales"


def test_pd_experiment_claims_hold_fail_or_are_not_checked():
    near, worse = pd_claims.students_near_teacher, pd_claims.ddim_clearly_worse
    assert near(_summary({4: 3.0, 8: 2.6}, best=2.5), 1.5)[0] == "holds"
    assert near(_summary({4: 10.0, 8: 2.6}, best=2.5), 1.5)[0] == "does not hold"
    assert near(_summary({2: 3.0}, best=2.5), 1.5)[0] == "not checked"
    assert worse(_summary({4: 3.0}, {4: 20.0}), 1.5)[0] == "holds"
    assert worse(_summary({4: 3.0}, {4: 3.5}), 1.5)[0] == "does not hold"
    assert pd_claims.ddim_degrades_sharply(_summary(teacher={4: 9.0}, best=3.0), 2.0)[0] == "holds"
    assert pd_claims.ddim_degrades_sharply(_summary(teacher={4: 5.0}, best=3.0), 2.0)[0] == "does not hold"
    assert pd_claims.ddim_degrades_sharply(_summary(teacher={8: 5.0}, best=3.0), 2.0)[0] == "not checked"
    cheap, to_four = pd_claims.rounds_cheap, pd_claims.distilling_to_four_costs_no_more
    assert cheap(_summary(cost=_cost(100, [(4, 10), (2, 20)])), 0.25)[0] == "holds"
    assert cheap(_summary(cost=_cost(100, [(4, 10), (2, 60)])), 0.25)[0] == "does not hold"
    assert to_four(_summary(cost=_cost(100, [(8, 30), (4, 30), (2, 60)])), 1.0)[0] == "holds"
    assert to_four(_summary(cost=_cost(100, [(8, 60), (4, 60)])), 1.0)[0] == "does not hold"
    assert to_four(_summary(cost=_cost(100, [(2, 10), (1, 10)])), 1.0)[0] == "not checked"


def test_table1_claims_with_tolerance():
    rows = [("x", "snr_trunc", 1.0), ("v", "snr", 2.0), ("x", "snr", 3.0)]
    table = pd.DataFrame([{"parameterization": p, "weighting": w, "sampler": "ddim", "fid": f, "status": "ok"}
                          for p, w, f in rows])
    assert table1_claims.x_trunc_best_under_ddim(table, 0.1)[0] == "holds"
    table.loc[0, "fid"] = 2.05  # second, but within the paper's +-0.1 noise of the best
    assert table1_claims.x_trunc_best_under_ddim(table, 0.1)[0] == "holds"
    table.loc[0, "fid"] = 2.5
    status, detail = table1_claims.x_trunc_best_under_ddim(table, 0.1)
    assert status == "does not hold" and "ranks 2 of 3" in detail
    base = {"sampler": "ddim", "parameterization": "eps", "weighting": "snr_trunc"}
    diverged = pd.DataFrame([{**base, "fid": float("nan"), "status": "diverged"}])
    assert table1_claims.eps_trunc_diverges(diverged, 0.0)[0] == "holds"
    trained = pd.DataFrame([{**base, "fid": 5.0, "status": "ok"},
                            {**base, "parameterization": "x", "fid": 4.0, "status": "ok"}])
    status, detail = table1_claims.eps_trunc_diverges(trained, 0.0)
    assert status == "does not hold" and "ranks 2 of 2" in detail


@pytest.mark.parametrize("profile,verdict", [("paper", "FAIL"), ("mini", "FAIL"), ("smoke", "not expected")])
def test_verdict_depends_on_scale(profile, verdict):
    bad = _summary({4: 30.0, 8: 26.0}, {4: 90.0, 8: 60.0}, best=2.5)
    near = next(o for o in evaluate_subject("pd_experiment", bad, profile, "e") if o["id"].endswith("near_teacher"))
    assert near["status"] == "does not hold" and near["verdict"] == verdict
    assert near["expected_here"] == (verdict == "FAIL")


def test_missing_subject_is_not_checked_never_passed():
    out = evaluate({"table1": {}, "pd_experiment": {}}, "paper")
    assert {o["status"] for o in out} == {"not checked"}
    assert all(o["verdict"] == "not checked" for o in out)


def test_a_claim_says_whether_the_spreads_of_its_two_numbers_overlap():
    """The spread beside a claim's number is the one measured for that number (one of its seeds reported it)."""
    import pandas as pd

    from distill.claims import spreads

    frame = pd.DataFrame([{"method": "kd", "cell": "digits-n1", "sampler": "ddim", "metric": "fid", "seeds": "0 1 2",
                           "values": "45.1 50 47", "mean": 47.37, "std": 2.47, "tolerance": 7.4, "status": "ok"},
                          {"method": "pd", "cell": "digits-n1", "sampler": "ddim", "metric": "fid", "seeds": "0 1 2",
                           "values": "30 31 32", "mean": 31.0, "std": 1.0, "tolerance": 3.0, "status": "ok"}])
    subject = spreads.attach({"points": []}, frame)
    kd = spreads.of(subject, "kd", "digits-n1", 45.1)
    assert kd == (47.37, 2.47, 3)
    assert spreads.of(subject, "kd", "digits-n1", 44.0) is None  # measured for other numbers: never shown
    assert "overlap" in spreads.overlap_text("A", kd, "B", (48.0, 1.0, 3)) and "do not" not in \
        spreads.overlap_text("A", kd, "B", (48.0, 1.0, 3))
    assert "do not overlap" in spreads.overlap_text("A", kd, "B", spreads.of(subject, "pd", "digits-n1", 31.0))
    assert spreads.overlap_text("A", None, "B", None) == "; training-seed spreads not measured"
