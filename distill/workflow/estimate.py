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


def job_seconds(path: Path) -> float | None:
    """The CPU seconds a benchmark file recorded (the last run's: every thread's, and unlike its wall time not
    stretched when other jobs shared the cores), or None when there is none or it is unreadable."""
    try:
        return float(pd.read_csv(path, sep="\t")["cpu_time"].iloc[-1])
    except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError):
        return None


def stored_times(pattern: str) -> list[float]:
    """The stored times of every job whose benchmark file matches a rule's pattern ('.../{run}/{sampler}.tsv')."""
    prefix = pattern.split("{")[0]
    folder = Path(prefix) if prefix.endswith("/") else Path(prefix).parent
    regex = re.compile("".join(".+" if part.startswith("{") else re.escape(part)
                               for part in re.split(r"(\{[^}]*\})", pattern)))
    return [s for f in sorted(folder.rglob("*.tsv")) if regex.fullmatch(str(f)) and (s := job_seconds(f)) is not None] \
        if folder.is_dir() else []


def estimate(jobs: Iterable, cores: int, where: str = "results/<profile>/benchmarks") -> str:
    """One line per rule (jobs, stored CPU seconds per job) and the total: CPU seconds / cores. A job without a
    stored time of its own takes its rule's median; a rule with none is counted as unknown."""
    jobs = list(jobs)
    counts, seconds, unknown = Counter(j.rule.name for j in jobs), Counter(), Counter()
    by_rule: dict[str, list[float]] = {}  # the stored times of every job of a rule (its benchmark folder)
    for j in jobs:
        own = job_seconds(Path(str(j.benchmark))) if j.benchmark else None
        if own is None and j.benchmark and "{" in str(j.rule.benchmark):  # another job of the rule (its folder)
            if j.rule.name not in by_rule:
                by_rule[j.rule.name] = stored_times(str(j.rule.benchmark))
            own = statistics.median(by_rule[j.rule.name]) if by_rule[j.rule.name] else None
        if own is None:
            unknown[j.rule.name] += 1
        else:
            seconds[j.rule.name] += own
    total = sum(seconds.values()) / max(1, cores)
    lines = [f"{len(jobs)} job(s) to run on {cores} core(s); roughly {total / 60:.0f} min from the job times stored in "
             f"{where} (CPU time, measured on the machine that made them; yours may differ):"]
    for rule, n in sorted(counts.items(), key=lambda kv: -seconds[kv[0]]):
        known = n - unknown[rule]
        per = f"~{seconds[rule] / known:.0f} core-s each" if known else "no stored time"
        lines.append(f"  {rule:24s} {n:4d} job(s), {per}")
    if unknown:
        lines.append(f"  ({sum(unknown.values())} job(s) without a stored time are not in the estimate)")
    return "\n".join(lines)
