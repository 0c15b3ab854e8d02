"""Before a run starts: how many jobs it will run and roughly how long they take, from the job times Snakemake's
`benchmark:` directive stored (results/<profile>/benchmarks/, committed for the mini profile), so a newcomer knows
what they started."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd


def job_seconds(path: Path, column: str = "cpu_time") -> float | None:
    """The seconds a benchmark file recorded (the last run's): its CPU time (every thread's, and unlike its elapsed
    time not stretched when other jobs shared the cores) or, with column="s", its elapsed time; None when there is
    none or it is unreadable."""
    try:
        value = float(pd.read_csv(path, sep="\t")[column].iloc[-1])
    except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError):
        return None
    return value if value >= 0 else None


def stored_times(pattern: str, column: str = "cpu_time") -> list[float]:
    """The stored times of every job whose benchmark file matches a rule's pattern ('.../{run}/{sampler}.tsv')."""
    prefix = pattern.split("{")[0]
    folder = Path(prefix) if prefix.endswith("/") else Path(prefix).parent
    regex = re.compile("".join(".+" if part.startswith("{") else re.escape(part)
                               for part in re.split(r"(\{[^}]*\})", pattern)))
    return [s for f in sorted(folder.rglob("*.tsv")) if regex.fullmatch(str(f)) and (s := job_seconds(f, column)) is not None] \
        if folder.is_dir() else []


def _seconds(jobs: list, column: str) -> tuple[Counter, Counter]:
    """Per rule: the stored seconds of its jobs, and how many have none. A job without a stored time of its own
    takes its rule's median; a rule with none is counted as unknown."""
    seconds, unknown = Counter(), Counter()
    by_rule: dict[str, list[float]] = {}  # the stored times of every job of a rule (its benchmark folder)
    for j in jobs:
        own = job_seconds(Path(str(j.benchmark)), column) if j.benchmark else None
        if own is None and j.benchmark and "{" in str(j.rule.benchmark):  # another job of the rule (its folder)
            if j.rule.name not in by_rule:
                by_rule[j.rule.name] = stored_times(str(j.rule.benchmark), column)
            own = statistics.median(by_rule[j.rule.name]) if by_rule[j.rule.name] else None
        if own is None:
            unknown[j.rule.name] += 1
        else:
            seconds[j.rule.name] += own
    return seconds, unknown


def estimate(jobs: Iterable, cores: int, where: str = "results/<profile>/benchmarks",
             machine: tuple[float, str] | None = None) -> str:
    """One line per rule (jobs, stored CPU seconds per job) and the total as a range: from the jobs' CPU time /
    cores (no overhead) to their elapsed time / cores (as they shared the cores when stored). `machine`: (this
    machine's time over the stored machine's for a fixed workload, its sentence) scales both (distill/workflow/
    speed.py)."""
    jobs = list(jobs)
    counts = Counter(j.rule.name for j in jobs)
    seconds, unknown = _seconds(jobs, "cpu_time")
    elapsed, _ = _seconds(jobs, "s")
    scale = machine[0] if machine else 1.0
    low = sum(seconds.values()) / max(1, cores) * scale / 60
    high = max(low, sum(elapsed.values()) / max(1, cores) * scale / 60)
    span = f"{low:.0f} min" if round(low) == round(high) else f"{low:.0f}-{high:.0f} min"
    said = (f"{machine[1]}, and the estimate is scaled by it" if machine else
            "measured on the machine that made them; yours may differ")
    lines = [f"{len(jobs)} job(s) to run on {cores} core(s); roughly {span} from the job times stored in {where} "
             f"(their CPU time to their elapsed time; {said}):"]
    for rule, n in sorted(counts.items(), key=lambda kv: -seconds[kv[0]]):
        known = n - unknown[rule]
        per = f"~{seconds[rule] * scale / known:.0f} core-s each" if known else "no stored time"
        lines.append(f"  {rule:24s} {n:4d} job(s), {per}")
    if unknown:
        lines.append(f"  ({sum(unknown.values())} job(s) without a stored time are not in the estimate)")
    return "\n".join(lines)
