"""What the main job says when it ends on a clone whose committed results it re-made (distill/results/remade.py):
each re-made FID against the committed one, judged by the committed training-seed spread."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from distill.results.remade import remade, summary

ROOT = Path(__file__).resolve().parents[1]
SPREAD = ("method,cell,sampler,metric,seeds,values,mean,std,tolerance,status\n"
          "table1,v-snr,ddim,fid,0 1 2,30 32 34,32,2,6,ok\n")


def _record(fid, cpu):
    return {"metrics": {"fid": {"mean": fid + 1, "min": fid}}, "provenance": {"machine": {"cpu": cpu}}}


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _clone(tmp_path):
    root = tmp_path / "clone"
    metrics = root / "results" / "mini" / "metrics"
    for run, fid in {"v-snr-s0": 30.0, "v-snr-s1": 32.0, "v-snr-s2": 34.0, "x-snr-s0": 90.0}.items():
        (metrics / run).mkdir(parents=True)
        (metrics / run / "ddim.json").write_text(json.dumps(_record(fid, "Xeon")))
    (root / "results" / "mini" / "spread").mkdir()
    (root / "results" / "mini" / "spread" / "table1.csv").write_text(SPREAD)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "committed")
    return root, metrics


def test_each_remade_fid_is_judged_against_the_committed_one_and_its_spread(tmp_path):
    root, metrics = _clone(tmp_path)
    assert remade(root, "results/mini") == [] and summary(root, "mini") is None  # nothing re-made yet
    (metrics / "v-snr-s0" / "ddim.json").write_text(json.dumps(_record(30.0000001, "EPYC")))  # identical
    (metrics / "v-snr-s1" / "ddim.json").write_text(json.dumps(_record(37.0, "EPYC")))  # 5 <= 3 std = 6
    (metrics / "v-snr-s2" / "ddim.json").write_text(json.dumps(_record(44.0, "EPYC")))  # 10 > 6: 5.0 std
    (metrics / "x-snr-s0" / "ddim.json").write_text(json.dumps(_record(80.0, "EPYC")))  # no committed spread
    verdicts = {r.name: r.verdict for r in remade(root, "results/mini")}
    assert verdicts == {"v-snr-s0/ddim": "identical", "v-snr-s1/ddim": "within", "v-snr-s2/ddim": "outside",
                        "x-snr-s0/ddim": "not judged"}
    text = summary(root, "mini")
    assert text.startswith("This run re-made 4 committed FID(s) of results/mini")
    assert "1 identical (to 1e-06), 1 within their tolerance" in text and "1 outside it, 1 without" in text
    assert "outside: v-snr-s2/ddim 34.00 -> 44.00, 5.0 std" in text
    assert "made on Xeon, these on EPYC: an unstable training can move between CPUs" in text and "git checkout HEAD -- results/mini reports" in text


def test_the_command_lists_every_remade_number(tmp_path):
    root, metrics = _clone(tmp_path)
    (metrics / "v-snr-s2" / "ddim.json").write_text(json.dumps(_record(44.0, "EPYC")))
    (root / "params.yaml").write_bytes((ROOT / "params.yaml").read_bytes())
    shutil.copytree(ROOT / "workflows" / "schema", root / "workflows" / "schema")
    proc = subprocess.run([sys.executable, "-m", "distill", "remade", "--profile", "mini"], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("outside     v-snr-s2/ddim 34.00 -> 44.00, 5.0 std  (tolerance 6.00)")
    assert "This run re-made 1 committed FID(s)" in proc.stdout


def test_outside_a_git_checkout_there_is_nothing_committed(tmp_path):
    assert remade(tmp_path, "results/mini") is None and summary(tmp_path, "mini") is None


def test_the_comparison_written_for_a_report_gives_the_cross_machine_figure(tmp_path):
    from distill.results.remade import describe, write

    root, metrics = _clone(tmp_path)
    assert describe(tmp_path / "none.csv") is None
    (metrics / "v-snr-s0" / "ddim.json").write_text(json.dumps(_record(30.0000001, "EPYC")))
    (metrics / "v-snr-s1" / "ddim.json").write_text(json.dumps(_record(33.0, "EPYC")))
    write(tmp_path / "remade.csv", remade(root, "results/mini"))
    text = describe(tmp_path / "remade.csv")
    assert text.startswith("Across machines: the 2 FIDs of this table and its spread were made again on EPYC")
    assert "on EPYC; against the same numbers made on Xeon, 1 are identical to 1e-06" in text
    assert "the largest change is 1 FID (v-snr-s1/ddim, 0.50 training-seed std), and 0 lie outside" in text


def test_a_fid_evaluated_with_another_classifier_is_not_judged(tmp_path):
    """The domain classifier trained again on another CPU (other weights: another feature extractor) makes every FID
    another measurement: it is reported, never judged within or outside a tolerance."""
    from distill.results.remade import describe, write

    root, metrics = _clone(tmp_path)
    for run, fid in (("v-snr-s2", 44.0), ("v-snr-s1", 32.5)):
        record = {**_record(fid, "EPYC"), "feature_extractor_sha256": "c0ffee", "reference_sha256": "beef"}
        (metrics / run / "ddim.json").write_text(json.dumps(record))
    (metrics / "v-snr-s0" / "ddim.json").write_text(json.dumps(_record(31.0, "EPYC")))  # the committed context
    verdicts = {r.name: r.verdict for r in remade(root, "results/mini")}
    assert verdicts == {"v-snr-s0/ddim": "within", "v-snr-s1/ddim": "other context",
                        "v-snr-s2/ddim": "other context"}
    text = summary(root, "mini")
    assert "0 outside it, 2 evaluated in another context (not judged)." in text and "outside:" not in text
    assert "with classifier unrecorded, reference statistics unrecorded, these with classifier c0ffee, reference " \
           "statistics beef" in text
    write(tmp_path / "remade.csv", remade(root, "results/mini"))
    assert describe(tmp_path / "remade.csv").endswith(
        "the largest change is 1 FID (v-snr-s0/ddim, 0.50 training-seed std), and 0 lie outside their tolerance; 2 "
        "were evaluated with another classifier or other reference statistics and are not compared.")
