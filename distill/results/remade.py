"""After a run: which committed results it re-made, and how the re-made numbers compare with the committed ones.

A fresh clone holds the committed mini results (metrics, reports) but not the weights they came from, so the main job
re-makes them and writes over the committed files. This says so when the run ends, with each re-made FID judged as
`distill verify` judges it: identical, within its tolerance (TOLERANCE_SIGMAS training-seed standard deviations of
the committed spread, results/<profile>/spread/), or outside it; and on which machines the two were made, since an
unstable training moves between CPUs about as much as between training seeds. A FID evaluated in another context (a
feature extractor or reference statistics of other weights: the domain classifier trained again on a CPU, or with a
thread count, whose arithmetic differs) is another measurement, and is not judged. The committed files stay in git.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from distill.core.checkpoint import atomic_write
from distill.results import spread as seed_spread
from distill.results.table import context_of, describe_context


IDENTICAL = 1e-6  # relative: a FID re-made to six significant digits is the committed one
OTHER_CONTEXT = "other context"  # the verdict of a FID evaluated with another extractor or reference: not judged


@dataclass
class Remade:
    name: str  # '<run>/<sampler>'
    committed: float
    remade: float
    tolerance: float | None  # None: the committed spread does not cover this number
    machines: tuple[str, str]  # (committed, re-made) CPU
    contexts: tuple[tuple[str, str], tuple[str, str]] = (("", ""), ("", ""))  # (committed, re-made) context_of

    @property
    def verdict(self) -> str:
        if self.contexts[0] != self.contexts[1]:
            return OTHER_CONTEXT
        if math.isclose(self.remade, self.committed, rel_tol=IDENTICAL):
            return "identical"
        if self.tolerance is None:
            return "not judged"
        return "within" if abs(self.remade - self.committed) <= self.tolerance else "outside"

    def describe(self) -> str:
        sigmas = ("" if not self.tolerance else
                  f", {abs(self.remade - self.committed) / (self.tolerance / seed_spread.TOLERANCE_SIGMAS):.1f} std")
        return f"{self.name} {self.committed:.2f} -> {self.remade:.2f}{sigmas}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def _fid(record: dict) -> float | None:
    try:
        value = float(record["metrics"]["fid"]["min"])
    except (KeyError, TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _machine(record: dict) -> str:
    return str(((record.get("provenance") or {}).get("machine") or {}).get("cpu") or "an unrecorded machine")


def committed_tolerances(root: Path, results: str) -> dict[tuple[str, str], float]:
    """(cell, sampler) -> tolerance of the committed training-seed spreads (HEAD's results/<profile>/spread/*.csv)."""
    listed = _git(root, "ls-tree", "-r", "--name-only", "HEAD", "--", f"{results}/spread")
    out: dict[tuple[str, str], float] = {}
    for name in listed.stdout.split():
        if not name.endswith(".csv"):
            continue
        text = _git(root, "show", f"HEAD:{name}").stdout
        try:
            frame = seed_spread.read(io.StringIO(text))
        except (ValueError, pd.errors.ParserError):
            continue
        if not {"cell", "sampler", "tolerance", "metric"} <= set(frame.columns):
            continue
        for r in frame[frame["metric"] == "fid"].itertuples():
            if not math.isnan(float(r.tolerance)):
                out[(str(r.cell), str(r.sampler))] = float(r.tolerance)
    return out


def remade(root: Path, results: str) -> list[Remade] | None:
    """Every committed FID record under `results` (results/<profile>) that the working tree holds another version of;
    None when `root` is not a git checkout (nothing is committed to compare with)."""
    changed = _git(root, "diff", "--name-only", "HEAD", "--", results)
    if changed.returncode != 0:
        return None
    tolerances = committed_tolerances(root, results)
    out = []
    for name in changed.stdout.split():
        path = root / name
        if not name.endswith(".json") or not path.is_file():
            continue
        try:
            before, after = json.loads(_git(root, "show", f"HEAD:{name}").stdout), json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        old, new = _fid(before), _fid(after)
        if old is None or new is None:
            continue
        run, sampler = Path(name).parent.name, Path(name).stem
        try:
            cell = seed_spread.cell_of(run)[0]
        except ValueError:
            cell = run
        out.append(Remade(f"{run}/{sampler}", old, new, tolerances.get((cell, sampler)),
                          (_machine(before), _machine(after)), (context_of(before), context_of(after))))
    return out


COLUMNS = ["name", "committed", "remade", "difference", "tolerance", "verdict", "committed_cpu", "remade_cpu"]


def write(path: str | Path, found: list[Remade]) -> None:
    """The comparison as a CSV (results/<profile>/remade/<what>.csv): what a report reads to say how far its numbers
    moved when they were re-made on another machine."""
    frame = pd.DataFrame([{"name": r.name, "committed": r.committed, "remade": r.remade,
                           "difference": r.remade - r.committed,
                           "tolerance": math.nan if r.tolerance is None else r.tolerance, "verdict": r.verdict,
                           "committed_cpu": r.machines[0], "remade_cpu": r.machines[1]} for r in found],
                         columns=COLUMNS)
    atomic_write(path, lambda p: frame.to_csv(p, index=False, float_format="%.6g"))


def describe(path: str | Path | None) -> str | None:
    """One sentence for a report's caption from a written comparison; None where there is none."""
    if path is None or not Path(path).is_file():
        return None
    frame = pd.read_csv(path)
    if frame.empty:
        return None
    other = int((frame["verdict"] == OTHER_CONTEXT).sum())
    head = (f"Across machines: the {len(frame)} FIDs of this table and its spread were made again on "
            f"{' / '.join(sorted(set(frame['remade_cpu'])))}; against the same numbers made on "
            f"{' / '.join(sorted(set(frame['committed_cpu'])))}")
    judged = frame[frame["verdict"] != OTHER_CONTEXT]
    if judged.empty:
        return (f"{head}, all {other} were evaluated with another classifier or other reference statistics (the "
                "classifier trained again there): other measurements, not compared.")
    worst = judged.loc[judged["difference"].abs().idxmax()]
    sigmas = (f", {abs(worst['difference']) / (worst['tolerance'] / seed_spread.TOLERANCE_SIGMAS):.2f} "
              "training-seed std" if worst["tolerance"] > 0 else "")
    identical = int((frame["verdict"] == "identical").sum())
    outside = int((frame["verdict"] == "outside").sum())
    return (f"{head}, {identical} are identical to {IDENTICAL:g}, the largest change is "
            f"{abs(worst['difference']):.2g} FID ({worst['name']}{sigmas}), and {outside} lie outside their tolerance"
            + (f"; {other} were evaluated with another classifier or other reference statistics and are not compared"
               if other else "") + ".")


def summary(root: Path, profile: str) -> str | None:
    """The lines printed when a run ends; None when it re-made no committed number."""
    results = f"results/{profile}"
    found = remade(root, results)
    if not found:
        return None
    counts = {v: sum(r.verdict == v for r in found)
              for v in ("identical", "within", "outside", "not judged", OTHER_CONTEXT)}
    lines = [f"This run re-made {len(found)} committed FID(s) of {results} and wrote over them (git keeps the "
             f"committed ones): {counts['identical']} identical (to {IDENTICAL:g}), {counts['within']} within their "
             f"tolerance ({seed_spread.TOLERANCE_SIGMAS:g} training-seed std of the committed spread), "
             f"{counts['outside']} outside it" + (f", {counts['not judged']} without a committed spread (not judged)"
                                                  if counts["not judged"] else "")
             + (f", {counts[OTHER_CONTEXT]} evaluated in another context (not judged)" if counts[OTHER_CONTEXT]
                else "") + "."]
    others = sorted({r.contexts for r in found if r.verdict == OTHER_CONTEXT})
    if others:
        lines.append("  another context: the committed FIDs were evaluated with "
                     + "; ".join(f"{describe_context(c)}, these with {describe_context(n)}" for c, n in others)
                     + ". Under another feature extractor a FID is another measurement: the domain classifier was "
                       "trained again here, and its training moves between CPUs and thread counts (its weights are a "
                       "DVC output: `dvc pull` brings the committed ones where a remote holds them).")
    outside = [r for r in found if r.verdict == "outside"]
    if outside:
        lines.append("  outside: " + "; ".join(r.describe() for r in outside))
    machines = sorted({r.machines for r in found if r.machines[0] != r.machines[1]})
    if machines:
        made = (f"  the committed numbers were made on {', '.join(sorted({m[0] for m in machines}))}, these on "
                f"{', '.join(sorted({m[1] for m in machines}))}")
        lines.append(made + (": the same numbers on both machines" if counts["identical"] == len(found) else
                             ": an unstable training can move between CPUs, which is why a number is judged by its "
                             "training-seed spread"))
    lines.append(f"  every number: `git diff --stat HEAD -- {results} reports`; the committed results back: "
                 f"`git checkout HEAD -- {results} reports`")
    return "\n".join(lines)
