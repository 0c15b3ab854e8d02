"""The README's commands work as written (how they are run: tests/readme_run.py)."""

from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT
from readme_run import NOT_RUN, readme_commands, substitute


def test_every_readme_command_is_run_or_listed_with_a_reason():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert len(commands) >= 10
    assert set(NOT_RUN) <= set(commands), f"NOT_RUN lists commands the README no longer has: {set(NOT_RUN) - set(commands)}"


@pytest.mark.integration
def test_the_readme_commands_work_as_written(readme_project, tmp_path):
    assert readme_project.failure is None, readme_project.failure
    _verify_refuses_a_doctored_number(readme_project.copy(tmp_path / "doctored"),
                                      readme_project.copy(tmp_path / "rerun"))


def _verify_refuses_a_doctored_number(proj, rerun) -> None:
    """The README's `distill verify` passed on the numbers the code makes; a committed number far from them fails it
    (where the smoke spread gave the cell a tolerance). Its re-run is kept in (`--keep`) a copy of the README run's
    project, which holds that re-run's outputs already (the same code and settings), so Snakemake has nothing to redo."""
    import pandas as pd

    judged = pd.read_csv(proj / "results" / "smoke" / "spread" / "table1.csv")
    judged = judged[(judged["cell"] == "x-snr") & (judged["status"] == "ok")]
    path = proj / "results" / "smoke" / "results.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    doctored = (table["method"] == "table1") & (table["model"] == "x-snr-s0") & (table["seed_range"] == "min")
    table.loc[doctored, "value"] = "1000"
    table.to_csv(path, index=False)
    proc = subprocess.run(substitute(f".venv/bin/distill verify --runs x-snr-s0 --keep {rerun}"), shell=True, cwd=proj,
                          capture_output=True, text=True)
    assert proc.returncode == (1 if len(judged) else 0), proc.stdout + proc.stderr
    if len(judged):
        assert "OUTSIDE tolerance" in proc.stdout
