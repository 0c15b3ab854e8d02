"""SFD's budget curve: FID against training iterations, per step count, from the student snapshots its run saved
(sfd.curve; distill/core/snapshots.py). At iteration 0 the snapshot is the teacher itself with the student's sampler
(Euler with AFS on the student's grid), so the curve starts where distillation starts; its last point is the run's
final student, the table's row. One job per run: every (iteration, step count) sampled with the protocol's seeds and
evaluated, one metrics record each, the folder written whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.core.snapshots import read_snapshots
from distill.pipeline import evaluate

SNAPSHOTS = "snapshots"  # beside the run's model.safetensors
PART = "student"


def point_name(iterations: int, num_steps: int) -> str:
    """A curve point's file stem: 'it<iterations>-n<num_steps>' (iterations of the whole run)."""
    return f"it{iterations}-n{num_steps}"


def run(cfg: dict[str, Any], wanted: list[int], step_counts: list[int], model_path: str | Path, reference: str,
        extractor_weights: str | None, out_dir: str | Path, threads: int | None = None,
        progress: bool = True) -> list[dict[str, Any]]:
    """Step: sample and evaluate the snapshots saved beside `model_path` at the iterations `wanted` (of the whole
    run), each with every step count of `step_counts` (an SFD-v run's several); writes <out_dir>/it<I>-n<N>.json (a
    metrics record; its sampling record names the snapshot) and .png."""
    snapshots = dict(read_snapshots(Path(model_path).parent / SNAPSHOTS, PART))
    missing = [i for i in wanted if i not in snapshots]
    if missing:
        raise FileNotFoundError(f"{Path(model_path).parent / SNAPSHOTS} has no snapshot at iterations {missing} (it "
                                f"has {sorted(snapshots)}): re-train the run with the profile's sfd.curve")
    points = [(point_name(i, n), snapshots[i], {"steps": n}) for i in wanted for n in step_counts]
    return evaluate.evaluate_points(cfg, points, reference, extractor_weights, out_dir, threads, progress)
