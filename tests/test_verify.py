import math

import pandas as pd
import pytest

from distill.pipeline.verify import judge
from distill.results.spread import TOLERANCE_SIGMAS, spread

from conftest import make_project, run_snakemake


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


@pytest.mark.integration
def test_verify_reruns_a_cell_from_scratch_and_judges_it(tmp_path):
    proj = make_project(tmp_path)
    built = run_snakemake(proj, "--config", "profile=smoke", "--", "results/smoke/results.csv",
                          "reports/table1_spread.pdf")
    assert built.returncode == 0, built.stderr[-3000:]
    spread_csv = pd.read_csv(proj / "results" / "smoke" / "spread" / "table1.csv")
    assert set(spread_csv["seeds"]) == {"0 1"} and len(spread_csv) == 2 * 2 * 2
    from distill import cli

    results = str(proj / "results" / "smoke")
    args = ["verify", "--profile", "smoke", "--no-progress", "--runs", "x-snr-s0", "--results", results,
            "--out", str(tmp_path / "v.csv")]
    assert cli.main(args) == 0
    verdicts = pd.read_csv(tmp_path / "v.csv")
    ok = spread_csv[spread_csv["status"] == "ok"]
    # the same machine re-makes the same number (to the 6 digits results.csv keeps); cells whose seeds diverged have
    # no tolerance and are not judged
    assert (verdicts["difference"].abs() <= 1e-5 * verdicts["committed"].abs()).all()
    assert set(verdicts["verdict"]) <= {"within tolerance", "spread not measured (not judged)"}
    assert (verdicts["verdict"] == "within tolerance").sum() == len(ok[ok["cell"] == "x-snr"])
    table = pd.read_csv(proj / "results" / "smoke" / "results.csv", dtype=str, keep_default_na=False)
    doctored = (table["method"] == "table1") & (table["model"] == "x-snr-s0") & (table["seed_range"] == "min")
    table.loc[doctored, "value"] = "1000"  # a committed number far from what the code makes
    table.to_csv(proj / "results" / "smoke" / "results.csv", index=False)
    expected = 1 if len(ok[ok["cell"] == "x-snr"]) else 0
    assert cli.main(args) == expected
