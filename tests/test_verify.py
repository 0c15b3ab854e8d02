"""The tolerance arithmetic of `distill verify` (its end-to-end run: the README test, tests/test_readme.py)."""

import math

import pandas as pd

from distill.workflow.verify import judge
from distill.results.spread import TOLERANCE_SIGMAS, for_numbers, spread



def _rows(values, status="ok"):
    return pd.DataFrame([{"method": "table1", "model": f"v-snr-s{seed}", "sampler": "ddim", "metric": "fid",
                          "seed_range": "min", "value": v, "status": status} for seed, v in enumerate(values)])


def test_the_tolerance_is_three_seed_to_seed_standard_deviations():
    df = spread(_rows([10.0, 12.0, 14.0]))
    row = df.iloc[0]
    assert (row["cell"], row["seeds"], row["mean"], row["std"]) == ("v-snr", "0 1 2", 12.0, 2.0)
    assert row["tolerance"] == TOLERANCE_SIGMAS * 2.0 == 6.0 and row["status"] == "ok"
    assert spread(_rows([10.0])).iloc[0]["status"] == "one seed only"
    assert math.isnan(spread(_rows([10.0, 11.0], status="diverged")).iloc[0]["tolerance"])
    assert judge(12.0, 17.9, 6.0) == "within tolerance" and judge(12.0, 18.1, 6.0) == "OUTSIDE tolerance"
    assert judge(12.0, 30.0, None) == "spread not measured (not judged)"


def test_a_spread_is_shown_only_beside_the_numbers_it_was_measured_for():
    s = spread(_rows([10.0, 12.0, 14.0]))
    # seed 0's number is the one the spread holds: shown (mean, std, seeds)
    assert for_numbers(s, {("v-snr", "ddim"): (10.0, [0])}) == {("v-snr", "ddim"): (12.0, 2.0, "0 1 2")}
    assert for_numbers(s, {("v-snr", "ddim"): (11.0, [0, 1])}) == {("v-snr", "ddim"): (12.0, 2.0, "0 1 2")}
    # another run, machine or commit made seed 0's number: the spread is not shown beside it
    assert for_numbers(s, {("v-snr", "ddim"): (10.5, [0])}) == {}
    assert for_numbers(s, {("v-snr", "ddim"): (10.0, [3])}) == {}  # a seed the spread did not train
    assert for_numbers(s, {("x-snr", "ddim"): (10.0, [0])}) == {}
