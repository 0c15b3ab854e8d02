"""Reports whose inputs were deleted. Snakemake does not remake a deleted intermediate file while the outputs built
from it are present (a deliberate choice since Snakemake 7.7), so asking for such a report says "Nothing to be
done". The workflow prints, for each such report, what is missing and the one command that rebuilds both.

Only inputs the report was really built from count: Snakemake records them (.snakemake/metadata), so a report built
for another profile, whose inputs of this profile never existed, gets no note (it is rebuilt for this profile)."""

from __future__ import annotations

import json
import os
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from pathlib import Path

from snakemake.io import is_flagged

METADATA = Path(".snakemake") / "metadata"


def stale_reports(rules: Iterable, profile: str) -> list[str]:
    """One note per rule without wildcards whose outputs all exist while some of the inputs its first output was
    built from do not (temporary files, deleted by design once used, excepted). Each note's command names the profile,
    so it can be pasted as it is."""
    rules = list(rules)
    temporary = [f for r in rules for f in r.output if is_flagged(f, "temp")]
    notes = []
    for rule in rules:
        if rule.has_wildcards() or not rule.output:
            continue
        outputs = [str(f) for f in rule.output]
        if not all(Path(f).exists() for f in outputs):
            continue
        built_from = set(recorded_inputs(outputs[0]))
        inputs = [str(f) for f in rule.input if isinstance(f, str)]
        missing = [f for f in inputs if f in built_from and not Path(f).exists()
                   and not any(t.match(f) for t in temporary)]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            notes.append(f"note: {outputs[0]} is present but its input {missing[0]}{more} was deleted; Snakemake does "
                         f"not remake deleted inputs of a present output. To rebuild them and it: snakemake --cores "
                         f"all --config profile={profile} --forcerun {rule.name} -- {outputs[0]}")
    return notes


def recorded_inputs(output: str, metadata: Path = METADATA) -> list[str]:
    """The inputs Snakemake recorded for the job that made `output` (its metadata record, named as
    snakemake/persistence.py names it); none if it has no record (made elsewhere, e.g. pulled with DVC)."""
    b64 = urlsafe_b64encode(output.encode()).decode()
    size = (os.pathconf(metadata, "PC_NAME_MAX") if metadata.is_dir() else 255) or 255
    parts = [b64[i:i + size - 1] for i in range(0, len(b64), size - 1)]
    path = metadata.joinpath(*["@" + p for p in parts[:-1]], parts[-1])
    try:
        return list(json.loads(path.read_text()).get("input") or [])
    except (OSError, ValueError):
        return []
