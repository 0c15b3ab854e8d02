"""Weights of a run's parts saved along training, with a manifest that proves them unchanged.

`train_parts(..., snapshots=Snapshots(folder, every, parts))` writes, at step 0 and every `every` steps, each named
part's weights (its EMA weights if it has one) as `<part>-<step:07d>.safetensors` (with its config beside it,
distill/core/checkpoint.py) and records them in `manifest.json`: the interval, and for each file its part, step
and sha256. The snapshots resume with the run: a run resumed from step s keeps those up to s and writes the later
ones again (bit-identical on CPU). `read_snapshots` verifies every file against the manifest and refuses a changed,
missing or unrecorded one, so a DisBack degradation path or a convergence curve is read from exactly the weights its
run wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from distill.core.checkpoint import CheckpointError, file_sha256, save_weights, write_json

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Snapshots:
    folder: Path
    every: int
    parts: tuple[str, ...]
    # a part's model config, saved beside each of its snapshots (so a snapshot loads, samples and evaluates like any
    # model: distill/pipeline/common.py load_denoiser)
    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"snapshot_every must be a positive number of steps, got {self.every}")
        if not self.parts:
            raise ValueError("snapshots need at least one part to save")

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def _entries(self) -> list[dict[str, Any]]:
        path = Path(self.folder) / MANIFEST
        return json.loads(path.read_text())["files"] if path.is_file() else []

    def keep_until(self, step: int) -> None:
        """On a (re)start at `step`: forget the snapshots after it (a killed run's, written again as it resumes); a
        run started from scratch removes every earlier snapshot of its parts."""
        folder = Path(self.folder)
        if step == 0:
            for part in self.parts:
                for old in folder.glob(f"{part}-*.safetensors"):
                    old.unlink()
                    old.with_suffix(".json").unlink(missing_ok=True)
        self._write([e for e in self._entries() if e["step"] <= step] if step > 0 else [])

    def write(self, step: int, weights: Mapping[str, Mapping[str, torch.Tensor]], config: Mapping[str, Any]) -> None:
        """Save each part's weights at `step` and record them (the manifest last, so it names only whole files)."""
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        entries = [e for e in self._entries() if e["step"] != step]
        for part in self.parts:
            path = folder / f"{part}-{step:07d}.safetensors"
            save_weights(path, weights[part], {**self.configs.get(part, {}), **config, "part": part, "step": step})
            entries.append({"part": part, "step": step, "file": path.name, "sha256": file_sha256(path)})
        self._write(sorted(entries, key=lambda e: (e["step"], e["part"])))

    def _write(self, entries: list[dict[str, Any]]) -> None:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        write_json(Path(self.folder) / MANIFEST, {"every": self.every, "parts": list(self.parts), "files": entries})


def read_snapshots(folder: str | Path, part: str, steps: list[int] | None = None) -> list[tuple[int, Path]]:
    """(step, file) of each snapshot of `part`, in step order, each file's sha256 checked against the manifest;
    with `steps`, exactly those steps must be recorded (a path of N + 1 nodes, a curve's evaluation points)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {MANIFEST}: it holds no snapshots of a finished run; run the step "
                              "that writes them")
    try:
        entries = [e for e in json.loads(path.read_text())["files"] if e["part"] == part]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); re-run the step that writes it") from exc
    found = [e["step"] for e in entries]
    if steps is not None and found != list(steps):
        raise CheckpointError(f"{path} records {part} at steps {found}, expected {list(steps)}: the run was cut "
                              "short or made with other settings; re-run the step that writes it")
    out = []
    for e in entries:
        file = folder / e["file"]
        if not file.is_file():
            raise CheckpointError(f"snapshot {file} (step {e['step']}) is missing; re-run the step that writes it")
        if file_sha256(file) != e["sha256"]:
            raise CheckpointError(f"snapshot {file} (step {e['step']}) is not the file {path} recorded (sha256 "
                                  "differs): it was changed or replaced; re-run the step that writes it")
        out.append((e["step"], file))
    return out
