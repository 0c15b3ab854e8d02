"""Judge a benchmark run (tools/bench.sh): portable signals on every machine, absolute medians within one fingerprint.

  1. overhead ratios against their aims (distill.bench.limits), on every machine: no baseline needed; one over its
     aim is reported, one beyond GROSS_FACTOR x its aim fails;
  2. normalised times (fastest round / the fastest run of the reference kernel timed between the rounds) against
     a baseline's: this fingerprint's if it has one, else the newest baseline of any machine (the figures are made
     to move little between machines);
  3. absolute medians against this fingerprint's baseline only. A machine with no baseline gets this run as its
     baseline, and no absolute comparison: another CPU's timings say nothing about this one's.
Comparisons 2 and 3 judge the geometric mean of the ratios over the benchmarks both runs have, and each benchmark
loosely (limits.py says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from distill.bench import store as st
from distill.bench.fingerprint import DEFAULT_PROFILE
from distill.bench.limits import EACH_LIMIT, GROSS_FACTOR, MEDIAN_LIMIT, NORMALISED_LIMIT, OVERHEAD_AIMS


def overhead_ratios(benchmarks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{benchmark name: {kind, ratio, aim}} of the benchmarks that measured an overhead ratio."""
    return {b["name"]: {"kind": i["overhead"], "ratio": i["overhead_ratio"], "aim": i["overhead_aim"]}
            for b in benchmarks if "overhead_ratio" in (i := b.get("extra_info", {})) and "overhead" in i}


def normalised(benchmarks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{benchmark name: {normalised, reference_kernel}}: its fastest round / the fastest run of its reference kernel,
    timed between its rounds."""
    return {b["name"]: {"normalised": b["stats"]["min"] / i["reference_seconds"],
                        "reference_kernel": i["reference_kernel"]}
            for b in benchmarks if (i := b.get("extra_info", {})).get("reference_seconds")}


def medians(run: dict[str, Any]) -> dict[str, float]:
    return {b["name"]: b["stats"]["median"] for b in run["benchmarks"]}


@dataclass(frozen=True)
class Check:
    kind: str  # 'overhead', 'normalised' or 'median'
    benchmark: str
    value: float  # the run's figure
    limit: float  # the largest value that passes
    against: str  # what the limit comes from

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    @property
    def over_aim(self) -> bool:
        """An overhead ratio above its aim but within its gross limit: reported, not failed."""
        return self.kind == "overhead" and self.value > self.limit / GROSS_FACTOR


def overhead_checks(run: dict[str, Any]) -> list[Check]:
    """Each overhead ratio against GROSS_FACTOR x today's aim of its kind (the aim a run recorded may be older)."""
    return [Check("overhead", name, r["ratio"], GROSS_FACTOR * (aim := OVERHEAD_AIMS.get(r["kind"], r["aim"])),
                  f"{GROSS_FACTOR} x {r['kind']} aim {aim}")
            for name, r in overhead_ratios(run["benchmarks"]).items()]


def relative_checks(kind: str, now: dict[str, float], then: dict[str, float], limit: float,
                    against: str) -> list[Check]:
    """The geometric mean over the benchmarks both have of now / then, against 1 + limit; and each benchmark's figure
    against then x (1 + EACH_LIMIT)."""
    common = [name for name in now if name in then]
    if not common:
        return []
    mean = math.exp(sum(math.log(now[n] / then[n]) for n in common) / len(common))
    return [Check(kind, f"geometric mean of {len(common)} ratios", mean, 1 + limit, against),
            *(Check(kind, name, now[name], then[name] * (1 + EACH_LIMIT), against) for name in common)]


def timed(run: dict[str, Any]) -> tuple[str, bool]:
    """What a run timed: its profile's networks, on a GPU or not (other machines' normalised times compare only
    within the same)."""
    fp = run.get("machine_info", {}).get("fingerprint", {})
    return fp.get("profile", DEFAULT_PROFILE), fp.get("device", "cpu") != "cpu"


def normalised_reference(run_machine: str, baselines: dict[str, dict[str, Any]],
                         what: tuple[str, bool] = (DEFAULT_PROFILE, False)) -> tuple[str, dict] | None:
    """The baseline normalised times are compared with: this machine's, else the newest one that has them and
    timed the same profile on the same kind of device."""
    with_norm = {m: b for m, b in baselines.items() if normalised(b["benchmarks"]) and
                 (m == run_machine or timed(b) == what)}
    if run_machine in with_norm:
        return run_machine, with_norm[run_machine]
    if not with_norm:
        return None
    newest = max(with_norm, key=lambda m: with_norm[m].get("datetime", ""))
    return newest, with_norm[newest]


def judge(run: dict[str, Any], machine: str, baselines: dict[str, dict[str, Any]]) -> tuple[list[Check], list[str]]:
    """Every check of a run, and notes on what was not compared (and why)."""
    checks, notes = overhead_checks(run), []
    if not checks:
        notes.append("the run has no overhead ratio: the overhead benchmarks did not run")
    ref = normalised_reference(machine, baselines, timed(run))
    now = {k: v["normalised"] for k, v in normalised(run["benchmarks"]).items()}
    if ref is None:
        notes.append("no stored baseline of the same profile and kind of device has normalised times: normalised "
                     "times not compared")
    else:
        then = {k: v["normalised"] for k, v in normalised(ref[1]["benchmarks"]).items()}
        checks += relative_checks("normalised", now, then, NORMALISED_LIMIT,
                                  f"baseline {ref[0]}{'' if ref[0] == machine else ' (another machine)'}")
    if machine in baselines:
        checks += relative_checks("median", medians(run), medians(baselines[machine]), MEDIAN_LIMIT,
                                  "this machine's baseline")
    return checks, notes


def table(checks: list[Check]) -> str:
    if not checks:
        return "(no checks)"
    df = pd.DataFrame([{"check": c.kind, "benchmark": c.benchmark, "value": c.value, "limit": c.limit,
                        "status": "FAIL" if not c.ok else "over aim" if c.over_aim else "ok", "against": c.against} for c in checks])
    return df.to_string(index=False, float_format=lambda x: f"{x:.4g}")


def run_and_report(run_path: Path, store: Path, make_baseline: bool, save: bool = True) -> int:
    """File the run in its fingerprint's history, judge it, save a baseline where asked or missing (never without
    `save`: a run some benchmarks of which failed); print what was done and every check. Returns the exit status: 1
    when a check fails."""
    run = st.read_run(run_path)
    machine = st.machine_slug(run)
    baselines = st.baselines(store)
    filed = st.file_run(store, run_path)
    print(f"machine fingerprint: {machine}\nfiled this run as {filed}")
    if make_baseline:
        baselines.pop(machine, None)  # the new baseline replaces the old; absolute medians are not compared
    checks, notes = judge(run, machine, baselines)
    for note in notes:
        print(f"note: {note}")
    print(table(checks))
    failed = [c for c in checks if not c.ok]
    for c in checks:
        if c.over_aim and c.ok:
            print(f"note: {c.benchmark}: overhead ratio {c.value:.3f} is over its aim {c.limit / GROSS_FACTOR:.3g} "
                  f"(reported, not failed; it fails beyond {c.limit:.3g})")
    if not save:
        print(f"not saved as the baseline of {machine}: some benchmarks failed, the run is incomplete")
    elif machine not in baselines:
        if any(c.kind == "overhead" for c in failed) or (failed and not make_baseline):
            print(f"not saved as the baseline of {machine}: " + ("an overhead ratio exceeds its gross limit" if any(
                c.kind == "overhead" for c in failed) else "a check failed (bash tools/bench.sh --baseline saves it "
                                                           "all the same, once the failure is understood)"))
        else:
            out = st.set_baseline(store, run_path)
            why = "as asked" if make_baseline else "this machine had none"
            print(f"saved this run as the baseline of {machine} ({why}): {out}; absolute medians are compared with "
                  "it from the next run on (commit it to keep it)")
    if failed:
        print(f"FAIL: {len(failed)} of {len(checks)} checks: " + ", ".join(f"{c.kind} {c.benchmark}" for c in failed))
        return 1
    print(f"PASS: {len(checks)} checks")
    return 0
