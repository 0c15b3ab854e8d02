"""The count and rough time the workflow prints before its first job (distill/workflow/estimate.py), scaled by this
machine's speed against the machine that made the stored times (distill/workflow/speed.py)."""

import json
from types import SimpleNamespace

from distill.workflow import speed
from distill.workflow.estimate import estimate

TSV = "s\th:m:s\tmax_rss\tcpu_time\n{wall}\t0:00:00\t1\t{cpu}\n"


def _job(rule, benchmark, pattern):
    return SimpleNamespace(rule=SimpleNamespace(name=rule, benchmark=pattern), benchmark=benchmark, threads=1)


def _jobs(tmp_path):
    bench = tmp_path / "b"
    (bench / "train").mkdir(parents=True)
    (bench / "train" / "a.tsv").write_text(TSV.format(wall=300, cpu=100))  # wall time stretched by a busy machine
    (bench / "train" / "b.tsv").write_text(TSV.format(wall=90, cpu=80))
    pattern = f"{bench}/train/{{run}}.tsv"
    return [_job("train", bench / "train" / "a.tsv", pattern), _job("train", bench / "train" / "c.tsv", pattern),
            _job("report", bench / "report.tsv", f"{bench}/report.tsv")]


def test_jobs_are_timed_by_their_stored_cpu_to_elapsed_time_or_their_rules_median(tmp_path):
    text = estimate(_jobs(tmp_path), cores=2, where="b")
    # a: its own 100 s (300 s elapsed); c: the median of the rule's stored jobs (90 s; 195 s elapsed); the report: no
    # stored time, not guessed. CPU: 190 s / 2 cores; elapsed: 495 s / 2 cores
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert text.startswith("3 job(s) to run on 2 core(s); roughly 2-4 min from the job times stored in b")
    assert "yours may differ" in text
    assert lines["train"].split()[1:] == ["2", "job(s),", "~95", "core-s", "each"]
    assert lines["report"].split()[1:] == ["1", "job(s),", "no", "stored", "time"]
    assert "(1 job(s) without a stored time are not in the estimate)" in text


def test_a_slower_machine_scales_the_estimate(tmp_path):
    text = estimate(_jobs(tmp_path), cores=2, where="b", machine=(2.0, "this machine trains 2.0x slower"))
    assert text.startswith("3 job(s) to run on 2 core(s); roughly 3-8 min")
    assert "this machine trains 2.0x slower, and the estimate is scaled by it" in text
    assert "~190 core-s each" in text


def test_the_machine_factor_is_measured_here_against_the_recorded_machine(tmp_path, monkeypatch):
    assert speed.factor(tmp_path) is None  # no machine recorded: no scaling
    entry = speed.record(tmp_path)
    assert entry["seconds"] > 0 and json.loads((tmp_path / speed.MACHINE_FILE).read_text()) == entry
    ratio, said = speed.factor(tmp_path)
    assert 0.3 < ratio < 3 and entry["cpu"] in said  # the same machine, timed twice
    monkeypatch.setattr(speed, "calibrate_fresh", lambda: entry["seconds"])  # the ratios below: no third timing
    slow = dict(entry, seconds=entry["seconds"] / 10)  # a machine 10x faster made the stored times
    (tmp_path / speed.MACHINE_FILE).write_text(json.dumps(slow))
    ratio, said = speed.factor(tmp_path)
    assert ratio > 3 and "slower than the" in said
    (tmp_path / speed.MACHINE_FILE).write_text(json.dumps(dict(entry, workload="another")))
    assert speed.factor(tmp_path) is None  # another workload's time is not comparable
