"""The count and rough time the workflow prints before its first job (distill/workflow/estimate.py)."""

from types import SimpleNamespace

from distill.workflow.estimate import estimate

TSV = "s\th:m:s\tmax_rss\tcpu_time\n{wall}\t0:00:00\t1\t{cpu}\n"


def _job(rule, benchmark, pattern):
    return SimpleNamespace(rule=SimpleNamespace(name=rule, benchmark=pattern), benchmark=benchmark, threads=1)


def test_jobs_are_timed_by_their_stored_cpu_time_or_their_rules_median(tmp_path):
    bench = tmp_path / "b"
    (bench / "train").mkdir(parents=True)
    (bench / "train" / "a.tsv").write_text(TSV.format(wall=300, cpu=100))  # wall time stretched by a busy machine
    (bench / "train" / "b.tsv").write_text(TSV.format(wall=90, cpu=80))
    pattern = f"{bench}/train/{{run}}.tsv"
    jobs = [_job("train", bench / "train" / "a.tsv", pattern), _job("train", bench / "train" / "c.tsv", pattern),
            _job("report", bench / "report.tsv", f"{bench}/report.tsv")]
    text = estimate(jobs, cores=2, where="b")
    # a: its own 100 s; c: the median of the rule's stored jobs (90 s); the report: no stored time, not guessed
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert text.startswith("3 job(s) to run on 2 core(s); roughly 2 min")
    assert lines["train"].split()[1:] == ["2", "job(s),", "~95", "core-s", "each"]
    assert lines["report"].split()[1:] == ["1", "job(s),", "no", "stored", "time"]
    assert "(1 job(s) without a stored time are not in the estimate)" in text
