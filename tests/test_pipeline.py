import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from distill.core.checkpoint import load_weights, save_weights
from distill.pipeline import evaluate, sample, train_teacher
from distill.reports.table1 import build

from conftest import ROOT, make_project as _project, run_snakemake as _snakemake


@pytest.mark.integration
def test_table1_builds_end_to_end_with_the_smoke_profile(readme_project, tmp_path):
    """Table 1 as the README's smoke command built it (tests/readme_run.py), then the FID-vs-N figure."""
    proj = readme_project.copy(tmp_path / "project")
    proc = _snakemake(proj, "--config", "profile=smoke", "--", "reports/table1.pdf", "reports/fid_vs_n.pdf")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (proj / "reports" / "table1.pdf").read_bytes().startswith(b"%PDF")
    table = pd.read_csv(proj / "reports" / "table1.csv")
    assert len(table) == 2 * 1 * 1  # smoke grid: {x, eps} x {snr} x {ddim}
    assert set(table["status"]) <= {"ok", "diverged", "non-finite samples"}
    assert table.loc[table["status"] == "ok", "fid"].gt(0).all()
    summary = json.loads((proj / "results" / "smoke" / "table1.json").read_text())
    assert [c["status"] in {"holds", "does not hold", "not checked"} for c in summary["claims"]] == [True, True]
    assert (proj / "logs" / "smoke" / "train_classifier.log").exists()
    record = json.loads((proj / "results" / "smoke" / "metrics" / "x-snr-s0" / "ddim.json").read_text())
    for key in ("feature_extractor", "feature_extractor_sha256", "reference_sha256", "seed_ranges", "sampling"):
        assert record[key]
    assert set(record["metrics"]) == {"fid", "fid_cleanfid", "kid", "is", "precision", "recall", "density", "coverage"}
    assert (proj / "results" / "smoke" / "metrics" / "x-snr-s0" / "ddim.png").exists()
    assert (proj / "reports" / "fid_vs_n.pdf").exists()
    # nothing to redo on a second run
    again = _snakemake(proj, "--config", "profile=smoke", "-n", "--", "reports/table1.pdf", "reports/fid_vs_n.pdf")
    assert "Nothing to be done" in again.stdout + again.stderr
    assert "note:" not in again.stderr  # temporary inputs (the curve's samples), deleted by design, are no stale report
    # deleted inputs of a present report: Snakemake keeps the report; the workflow says why and what to run
    (proj / "results" / "smoke" / "metrics" / "x-snr-s0" / "ddim.json").unlink()
    kept = _snakemake(proj, "--config", "profile=smoke", "--", "reports/table1.pdf")
    assert kept.returncode == 0, kept.stderr[-3000:]
    assert "note: reports/table1.pdf is present but its input results/smoke/metrics/x-snr-s0/ddim.json" in kept.stderr
    assert "snakemake --cores all --config profile=smoke --forcerun pd_table1 -- reports/table1.pdf" in kept.stderr
    # under another profile, whose inputs of the report never existed, the report is rebuilt: no note
    assert "note:" not in _snakemake(proj, "--config", "profile=mini", "-n", "--", "reports/table1.pdf").stderr
    rebuilt = _snakemake(proj, "--forcerun", "pd_table1", "--config", "profile=smoke", "--", "reports/table1.pdf")
    assert rebuilt.returncode == 0 and "note:" not in rebuilt.stderr, rebuilt.stderr[-3000:]
    # said before the first job starts (the evaluation whose record was deleted, and the table)
    assert re.search(r"\n2 job\(s\) to run on 2 core\(s\); roughly \d+ min", rebuilt.stderr), rebuilt.stderr[-3000:]
    assert pd.read_csv(proj / "reports" / "table1.csv")["fid"].equals(table["fid"])


@pytest.mark.integration
def test_the_main_job_ends_by_judging_the_committed_results_it_re_made(readme_project, tmp_path):
    """A clone whose committed results the main job re-makes (a fresh clone at mini; here the smoke results, committed
    in the copy with one FID changed as another machine might have made it) hears so when the run ends: how many
    were re-made, how each compares, and the command that lists them."""
    proj = readme_project.copy(tmp_path / "project")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    metrics = proj / "results" / "smoke" / "metrics"
    subprocess.run([*git, "add", "-f", str(metrics)], cwd=proj, check=True)
    changed = metrics / "x-snr-s0" / "ddim.json"
    record = json.loads(changed.read_text())
    record["metrics"]["fid"]["min"] += 0.5
    changed.write_text(json.dumps(record))
    subprocess.run([*git, "commit", "-qam", "committed smoke results"], cwd=proj, check=True)
    proc = _snakemake(proj, "--config", "profile=smoke", "--forcerun", "evaluate", "--", "reports/table1.pdf")
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert re.search(r"This run re-made \d+ committed FID\(s\) of results/smoke and wrote over them", said), said[-3000:]
    assert "identical (to 1e-06)" in said and "1 without a committed spread (not judged)" in said
    assert "git checkout HEAD -- results/smoke reports" in said


def test_progressive_distillation_rounds_run_as_snakemake_jobs(readme_project, tmp_path):
    """The smoke teacher (4 DDIM steps) distilled round by round to 1 step, Fig. 4 and Table 2 built (by the README's
    commands, tests/readme_run.py); changing the budget of the last rounds (to 2 and to 1 steps) reruns those rounds
    and what follows but not the teacher, and the budget of the other rounds, which no smoke round reads, reruns
    nothing."""
    proj = readme_project.copy(tmp_path / "project")
    targets = ["reports/pd_fig4_digits.pdf", "reports/table2.pdf"]
    proc = _snakemake(proj, "--config", "profile=smoke", "--", *targets)  # Table 2 again: it reads the PD spread too
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd_dir = proj / "results" / "smoke" / "pd" / "digits"
    rounds = {n: json.loads((pd_dir / f"n{n}" / "summary.json").read_text()) for n in (2, 1)}
    assert all(r["status"] == "completed" and r["teacher_steps"] == 2 * n for n, r in rounds.items())
    summary = json.loads((proj / "results" / "smoke" / "pd_digits.json").read_text())
    assert set(summary["curves"]["teacher_ddim"]) == {"1", "2", "4"}
    assert set(summary["curves"]["distilled_ddim"]) == {"1", "2"}
    assert [c["stage"] for c in summary["cost"]] == ["teacher", "4→2", "2→1"]
    assert {c["status"] for c in summary["claims"]} <= {"holds", "does not hold", "not checked"}
    fig4 = pd.read_csv(proj / "reports" / "pd_fig4_digits.csv")
    assert set(fig4["source"]) == {"reproduced", "published"}
    table2 = pd.read_csv(proj / "reports" / "table2.csv")
    assert "profile 'smoke'" in " ".join(table2["source"])
    repro = table2[table2["source"].str.startswith("reproduced")]
    kd = repro[repro["method"].str.startswith("Knowledge distillation")]
    assert kd["nfe"].tolist() == [1] and kd["cost_seconds"].gt(0).all() and kd["cost_teacher_evals"].eq(64 * 8).all()
    assert 10 in set(repro[repro["method"].str.startswith("DDIM")]["nfe"])  # pd.table2_ddim_steps: not a power of 2
    assert repro[repro["method"].str.startswith("Progressive")]["cost_images"].gt(0).all()
    assert (proj / "reports" / "table2.pdf").read_bytes().startswith(b"%PDF")

    params = proj / "params.yaml"
    text = params.read_text()
    old = "          updates_per_round: 10\n          updates_last_rounds: 10\n"
    assert old in text
    for new, planned in (("updates_per_round: 12\n          updates_last_rounds: 10", set()),
                         ("updates_per_round: 10\n          updates_last_rounds: 12", {2, 1})):
        params.write_text(text.replace(old, f"          {new}\n"))
        dry = _snakemake(proj, "--config", "profile=smoke", "-n", "--", *targets)
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert _planned_rounds(dry.stdout + dry.stderr) == planned, new
        assert "rule train_teacher:" not in dry.stdout + dry.stderr


def _planned_rounds(dry_run_output: str) -> set[int]:
    """Student steps of the pd_round jobs a Snakemake dry run plans."""
    blocks = re.findall(r"rule pd_round:.*?wildcards: exp=\w+, steps=(\d+)", dry_run_output, flags=re.S)
    return {int(n) for n in blocks}


def test_an_experiment_with_its_own_training_gets_its_own_teacher_job(tmp_path):
    """pd_train_teacher (the Table 1 teacher rule, reused) runs when an experiment overrides the teacher training."""
    proj = _project(tmp_path)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    smoke = params["profiles"]["smoke"]
    smoke["pd"]["experiments"]["digits"]["teacher_training"] = {**smoke["teacher"], "steps": 7}
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dry = _snakemake(proj, "--config", "profile=smoke", "-n", "-p", "--", "results/smoke/pd/digits/n2/model.safetensors")
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    assert "--experiment digits" in out and "--out results/smoke/pd/digits/teacher" in out
    assert "results/smoke/teachers/" not in out


def test_workflow_rejects_hyperparameters_on_the_command_line(tmp_path):
    proj = _project(tmp_path)
    proc = _snakemake(proj, "-n", "--config", 'profiles={"smoke": {"description": "changed"}}', "--", "reports/table1.pdf")
    assert proc.returncode != 0
    assert "--config may only set `profile`" in proc.stderr
    proc = _snakemake(proj, "-n", "--config", "profile=smoke", "bogus=1", "--", "reports/table1.pdf")
    assert proc.returncode != 0
    assert "--config may only set `profile` (it set bogus)" in proc.stderr
    proc = _snakemake(proj, "-n", "--config", "profile=nope", "--", "reports/table1.pdf")
    assert proc.returncode != 0 and "profile 'nope' is not defined in params.yaml" in proc.stderr


def test_a_diverged_teacher_flows_through_to_the_table(tmp_path, smoke_cfg):
    smoke_cfg["table1"].update(parameterizations=["x"], weightings=["snr", "snr_trunc"], samplers=["ddim"])
    smoke_cfg["evaluation"].update(num_samples=16, seed_ranges=1, kid_subset_size=16)
    res = tmp_path / "results"
    for w in ("snr", "snr_trunc"):
        out = res / "teachers" / f"x-{w}-s0"
        train_teacher.run(smoke_cfg, "x", w, 0, out, threads=1, progress=False)
        if w == "snr_trunc":  # rewrite it as a run whose loss became non-finite
            tensors, cfg = load_weights(out / "model.safetensors")
            save_weights(out / "model.safetensors", tensors, {**cfg, "status": "diverged"})
        assert sample.run(smoke_cfg, out / "model.safetensors", "ddim", res / "samples" / f"x-{w}-s0" / "ddim.npz",
                          threads=1, progress=False) == ("diverged" if w == "snr_trunc" else "ok")
    from distill.pipeline import reference, train_classifier

    train_classifier.run(smoke_cfg, res / "classifier", threads=1, progress=False)
    weights = str(res / "classifier" / "model.safetensors")
    reference.run(smoke_cfg, res / "ref.npz", weights)
    for w in ("snr", "snr_trunc"):
        record = evaluate.run(smoke_cfg, res / "samples" / f"x-{w}-s0" / "ddim.npz", res / "ref.npz",
                              res / "metrics" / f"x-{w}-s0" / "ddim.json", res / "metrics" / f"x-{w}-s0" / "ddim.png",
                              weights)
        assert (record["metrics"] is None) == (w == "snr_trunc")
        assert (res / "metrics" / f"x-{w}-s0" / "ddim.png").read_bytes().startswith(b"\x89PNG")
    summary = build(smoke_cfg, res, ROOT / "results" / "published" / "published.csv", tmp_path / "t.pdf",
                    tmp_path / "t.csv", tmp_path / "t.json", tmp_path / "rows.csv", tmp_path / "plots")
    assert summary["status"]["x/snr_trunc/ddim"] == "diverged"
    losses = sorted(p.name for p in (tmp_path / "plots" / "losses").iterdir())  # DVC plot data: a CSV per teacher
    assert losses == ["x-snr-s0.csv", "x-snr_trunc-s0.csv"]
    assert list(pd.read_csv(tmp_path / "plots" / "losses" / "x-snr-s0.csv").columns) == ["step", "loss"]
    best_ddim, eps_diverges = summary["claims"]
    assert best_ddim["status"] == "not checked"  # its (x, truncated SNR) cell diverged
    assert eps_diverges["status"] == "not checked"
    assert (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF")


def test_cli_help_lists_every_step():
    out = subprocess.run([sys.executable, "-m", "distill", "--help"], capture_output=True, text=True).stdout
    for command in ("check-params", "train-classifier", "train-teacher", "sample", "evaluate", "table1", "pd-round",
                    "pd-report", "table2", "kd-pairs", "kd-train", "kd-report", "results", "compare", "dvc-yaml"):
        assert command in out
